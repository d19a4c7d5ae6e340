package dev.blender.runtime.cli;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import dev.blender.runtime.combine.TextScorer;
import dev.blender.runtime.combine.TextScorer.Score;
import dev.blender.runtime.combine.VocabAlignment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code blender perplexity}: bits per byte of a text under each model and under their combinations. */
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
        List<String> pieces = pieces(skip(Files.readString(file, StandardCharsets.UTF_8), skipBytes), chunk, maxBytes);
        List<LlamaModel> loaded = new ArrayList<>();
        try {
            List<LlamaContext> contexts = new ArrayList<>();
            for (Path p : paths) {
                LlamaModel m = LlamaModel.load(p, probe.apply(ModelOptions.defaults()));
                loaded.add(m);
                contexts.add(m.newContext(ContextOptions.defaults().withContextSize(Math.min(512, m.trainingContextLength()))
                        .withBatchSize(512)));
            }
            List<Adaptation> adaptations = adapt.stream().distinct().toList();
            Map<String, Score> results = new LinkedHashMap<>();
            Progress progress = new Progress(System.err, pieces.size() * (paths.size() + 2 * adaptations.size()));
            int done = 0;
            for (int k = 0; k < paths.size(); k++) {
                Score s = Score.ZERO;
                for (String piece : pieces) {
                    s = s.plus(TextScorer.single(contexts.get(k), piece));
                    progress.step(++done, paths.get(k).getFileName().toString());
                }
                results.put("member:" + paths.get(k).getFileName().toString().replaceFirst("\\.gguf$", ""), s);
            }
            if (paths.size() > 1) {
                for (Adaptation adaptation : adaptations) {
                    for (CombineMethod method : new CombineMethod[] {CombineMethod.LINEAR, CombineMethod.LOG_LINEAR}) {
                        CombineOptions o = CombineOptions.equal(method, paths.size());
                        String name = "token:" + method.name().toLowerCase(Locale.ROOT).replace('_', '-')
                                + switch (adaptation) {
                                    case FIXED -> "";
                                    case BAYES -> "-adaptive";
                                    case LEARNED -> "-learned";
                                };
                        o = switch (adaptation) {
                            case FIXED -> o;
                            case BAYES -> o.adaptive(switchRate);
                            case LEARNED -> o.learned(learningRate);
                        };
                        TextScorer scorer = new TextScorer(contexts, o, VocabAlignment.Policy.ALIGN_BY_TEXT);
                        Score s = Score.ZERO;
                        for (String piece : pieces) {
                            s = s.plus(scorer.score(piece));
                            progress.step(++done, name);
                        }
                        results.put(name, s);
                        if (adaptation != Adaptation.FIXED) {
                            System.err.printf(Locale.ROOT, "%n%s: weights at the end %s%n", name,
                                    java.util.Arrays.toString(scorer.weights()));
                        }
                    }
                }
            }
            progress.done();
            System.out.printf("%d pieces, %d bytes of %s%n", pieces.size(),
                    results.values().iterator().next().bytes(), file);
            System.out.printf("%-32s %14s %10s%n", "method", "bits per byte", "tokens");
            for (Map.Entry<String, Score> e : results.entrySet()) {
                System.out.printf(Locale.ROOT, "%-32s %14.4f %10d%n", e.getKey(), e.getValue().bitsPerByte(),
                        e.getValue().tokens());
            }
            if (json != null) {
                var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
                var root = mapper.createObjectNode();
                var rows = root.putArray("rows");
                results.forEach((method, score) -> rows.addObject().put("method", method)
                        .put("bits_per_byte", score.bitsPerByte()).put("tokens", score.tokens()).put("bytes", score.bytes()));
                mapper.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), root);
            }
        } catch (UncheckedIOException e) {
            throw e;
        } finally {
            loaded.forEach(LlamaModel::close);
        }
        return 0;
    }

    private static IllegalArgumentException missing(String what) {
        return new IllegalArgumentException("shared/" + what + " was not found; pass --model and --text");
    }

    /** The text after the first {@code bytes} bytes, cut at a paragraph boundary. */
    static String skip(String all, int bytes) {
        if (bytes <= 0) {
            return all;
        }
        int used = 0;
        int at = 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\n\\s*\\n").matcher(all);
        while (used < bytes && m.find()) {
            used += bytes(all.substring(at, m.end()));
            at = m.end();
        }
        return all.substring(at);
    }

    /** Splits on blank lines, then at sentence ends into pieces of at most {@code max} bytes. */
    static List<String> pieces(String all, int max, int budget) {
        List<String> out = new ArrayList<>();
        int used = 0;
        for (String para : all.split("\\n\\s*\\n")) {
            StringBuilder cur = new StringBuilder();
            for (String sentence : para.strip().split("(?<=[.!?])\\s+")) {
                if (cur.length() > 0 && bytes(cur + " " + sentence) > max) {
                    used += add(out, cur.toString());
                    cur.setLength(0);
                }
                if (bytes(sentence) > max) {
                    continue; // a single over-long sentence is skipped rather than cut mid-word
                }
                cur.append(cur.length() > 0 ? " " : "").append(sentence);
            }
            if (cur.length() > 0) {
                used += add(out, cur.toString());
            }
            if (used >= budget) {
                break;
            }
        }
        return out;
    }

    private static int add(List<String> out, String s) {
        out.add(s);
        return bytes(s);
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
