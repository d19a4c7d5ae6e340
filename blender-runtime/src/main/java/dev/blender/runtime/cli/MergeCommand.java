package dev.blender.runtime.cli;

import dev.blender.runtime.merge.MergeMethod;
import dev.blender.runtime.merge.MergeOptions;
import dev.blender.runtime.merge.MergeResult;
import dev.blender.runtime.merge.ModelMerger;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blender merge}: the flags of {@link ModelMerger}, a progress bar and a one-line summary. */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Merges GGUF models of one architecture and shape into one file, tensor by tensor "
                + "(every tensor, norms and embeddings included; inputs f32, f16, q8_0 or q4_0). Methods:",
            "  linear           the element-wise mean of the models (a model soup); --base",
            "                   optional",
            "  task-arithmetic  base + lambda * sum_i (model_i - base)",
            "  ties             per tensor, each task vector (model_i - base) trimmed to",
            "                   its top --density by magnitude, signs elected by the sum,",
            "                   the mean of the agreeing entries; base + lambda * that",
            "  dare             each task-vector entry dropped with probability --drop",
            "                   (seeded), the rest scaled by 1/(1-drop), then task",
            "                   arithmetic",
            "The output keeps the base's (or first model's) metadata and records the method, its parameters, "
                + "the inputs and their SHA-256 under blender.merge.*. Example:",
            "  blender merge --method ties --base base.gguf -m add.gguf -m sub.gguf \\",
            "      --density 0.5 -o ties.gguf"})
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--method", required = true, paramLabel = "METHOD",
            description = "linear, task-arithmetic, ties or dare")
    String method;

    @Option(names = "--base", paramLabel = "B.gguf",
            description = "the model the others were fine-tuned from (needed by all but linear)")
    Path base;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "M.gguf",
            description = "a model to merge (repeatable)")
    List<Path> models = new ArrayList<>();

    @Option(names = "--lambda", defaultValue = "1.0",
            description = "scale of the merged task vector (default: ${DEFAULT-VALUE})")
    double lambda;

    @Option(names = "--density", defaultValue = "0.5",
            description = "ties: fraction of each task vector kept, in (0, 1] (default: ${DEFAULT-VALUE})")
    double density;

    @Option(names = "--drop", defaultValue = "0.5",
            description = "dare: probability of dropping an entry, in [0, 1) (default: ${DEFAULT-VALUE})")
    double drop;

    @Option(names = "--seed", defaultValue = "0", description = "dare: random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--type", defaultValue = "f32", paramLabel = "TYPE",
            description = "output tensor type: f32, f16, q8_0 or q4_0; 1-D tensors stay f32 (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf",
            description = "the merged model (never one of the inputs)")
    Path output;

    @Override
    public Integer call() {
        MergeOptions options = MergeOptions.builder(MergeMethod.parse(method)).base(base).models(models)
                .lambda(lambda).density(density).drop(drop).seed(seed).type(MergeOptions.parseType(type)).build();
        Progress.Lazy bar = new Progress.Lazy(System.err);
        MergeResult r;
        try {
            r = ModelMerger.merge(options, output, bar::step);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
        bar.done();
        System.out.printf(Locale.ROOT, "%s: %s merge of %d model(s), %d tensors, %,d parameters, %s, %,d bytes in %.1f s%n",
                r.output(), options.method().cliName(), options.models().size(), r.tensors(), r.parameters(),
                options.type().name().toLowerCase(Locale.ROOT), r.bytes(), r.millis() / 1000);
        return 0;
    }
}
