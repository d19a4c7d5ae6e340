package dev.blender.runtime.cli;

import dev.blender.nativebridge.ModelOptions;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import dev.blender.runtime.eval.Perplexity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code blender perplexity}: the flags and table of {@link Perplexity}. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = {"Bits per UTF-8 byte of a text under each model alone and under linear and log-linear "
                + "combinations, with equal weights, with adaptive weights (online Bayesian, fixed share) and with "
                + "weights from a gate learnt online (both learnt across the pieces in order), so models with "
                + "different vocabularies compare.",
            "Defaults: shared/models/stories260K.gguf + aidreams260K.gguf (aligned by token text) on "
                + "shared/data/tinystories/tinystories_val_dev.txt."})
final class PerplexityCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "GGUF", description = "a model (repeat; default: stories260K + aidreams260K)")
    List<Path> models = new ArrayList<>();

    @Option(names = "--text", paramLabel = "FILE", description = "text, pieces separated by blank lines")
    Path text;

    @Option(names = "--max-bytes", defaultValue = "100000", description = "score at most this much text (default: ${DEFAULT-VALUE})")
    int maxBytes;

    @Option(names = "--chunk", defaultValue = "150",
            description = "split text into pieces of at most this many bytes at sentence ends, each scored from BOS"
                    + " (default: ${DEFAULT-VALUE}; pieces must fit every model's context)")
    int chunk;

    @Option(names = "--skip-bytes", defaultValue = "0",
            description = "start after this many bytes of the text (whole paragraphs), e.g. to choose settings on"
                    + " text the reported figures do not use (default: ${DEFAULT-VALUE})")
    int skipBytes;

    @Option(names = "--adapt", split = ",", paramLabel = "A", defaultValue = "fixed,bayes,learned",
            description = "which weights to mix with: fixed (equal; rows token:METHOD), bayes (rows"
                    + " token:METHOD-adaptive), learned (rows token:METHOD-learned) (default: ${DEFAULT-VALUE})")
    List<Adaptation> adapt;

    @Option(names = "--switch-rate", defaultValue = "0.01",
            description = "fixed-share rate of the bayes rows (default: ${DEFAULT-VALUE})")
    float switchRate;

    @Option(names = "--learning-rate", defaultValue = "0.1",
            description = "learning rate of the learned gate's rows (default: ${DEFAULT-VALUE})")
    float learningRate;

    @Mixin
    ProbeFlags probe = new ProbeFlags();

    @Option(names = "--json", paramLabel = "OUT.json",
            description = "also write {\"rows\": [{\"method\", \"bits_per_byte\"}]}")
    Path json;

    @Override
    public Integer call() throws IOException {
        List<Path> paths = models.isEmpty() ? List.of(
                SharedData.resolve("models/stories260K.gguf").orElseThrow(() -> missing("models/stories260K.gguf")),
                SharedData.resolve("models/aidreams260K.gguf").orElseThrow(() -> missing("models/aidreams260K.gguf")))
                : models;
        Path file = text != null ? text : SharedData.resolve("data/tinystories/tinystories_val_dev.txt")
                .orElseThrow(() -> missing("data/tinystories/tinystories_val_dev.txt"));
        List<String> pieces = Perplexity.pieces(Perplexity.skip(Files.readString(file, StandardCharsets.UTF_8), skipBytes),
                chunk, maxBytes);
        Progress[] progress = new Progress[1];
        List<Perplexity.Row> rows = new Perplexity(adapt, switchRate, learningRate).score(paths,
                probe.apply(ModelOptions.defaults()), pieces, new Perplexity.Listener() {
                    @Override
                    public void scored(int done, int total, String method) {
                        if (progress[0] == null) {
                            progress[0] = new Progress(System.err, total);
                        }
                        progress[0].step(done, method);
                    }

                    @Override
                    public void rowDone(Perplexity.Row row) {
                        if (row.finalWeights() != null) {
                            System.err.printf(Locale.ROOT, "%n%s: weights at the end %s%n", row.method(),
                                    Arrays.toString(row.finalWeights()));
                        }
                    }
                });
        if (progress[0] != null) {
            progress[0].done();
        }
        System.out.printf("%d pieces, %d bytes of %s%n", pieces.size(), rows.get(0).score().bytes(), file);
        System.out.printf("%-32s %14s %10s%n", "method", "bits per byte", "tokens");
        for (Perplexity.Row r : rows) {
            System.out.printf(Locale.ROOT, "%-32s %14.4f %10d%n", r.method(), r.score().bitsPerByte(), r.score().tokens());
        }
        if (json != null) {
            JsonOut.write(json, Perplexity.toJson(rows));
        }
        return 0;
    }

    private static IllegalArgumentException missing(String what) {
        return new IllegalArgumentException("shared/" + what + " was not found; pass --model and --text");
    }
}
