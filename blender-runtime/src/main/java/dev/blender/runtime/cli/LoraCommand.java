package dev.blender.runtime.cli;

import dev.blender.runtime.lora.LoraExtractor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blender lora}: LoRA adapters; {@code extract} is the flags of {@link LoraExtractor} and a summary. */
@Command(name = "lora", mixinStandardHelpOptions = true, description = "LoRA adapters over a base model.",
        subcommands = LoraCommand.Extract.class)
final class LoraCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("Usage: blender lora extract --base B.gguf --tuned T.gguf --rank R -o A.gguf");
        return 2;
    }

    @Command(name = "extract", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Extracts a LoRA adapter from a fine-tune: the truncated SVD of (tuned - base) of every "
                    + "matrix, at --rank (larger than a matrix's smaller side = full rank), written as an f32 GGUF "
                    + "adapter that llama.cpp applies at scale 1 to reproduce the truncated deltas.",
                "Adapters carry matrices only: the tuned model's norms (1-D tensors) are left out.",
                "Example:",
                "  blender lora extract --base base.gguf --tuned add.gguf --rank 8 -o add-r8.gguf"})
    static final class Extract implements Callable<Integer> {
        @Option(names = "--base", required = true, paramLabel = "B.gguf", description = "the model that was fine-tuned")
        Path base;

        @Option(names = "--tuned", required = true, paramLabel = "T.gguf", description = "the fine-tuned model")
        Path tuned;

        @Option(names = "--rank", required = true, paramLabel = "R", description = "rank of every adapted matrix")
        int rank;

        @Option(names = {"-o", "--output"}, required = true, paramLabel = "A.gguf", description = "the adapter")
        Path output;

        @Override
        public Integer call() {
            Progress.Lazy bar = new Progress.Lazy(System.err);
            LoraExtractor.Result r;
            try {
                r = LoraExtractor.extract(base, tuned, rank, output, bar::step);
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
            bar.done();
            System.out.printf(Locale.ROOT, "%s: LoRA of %s over %s, %d matrices at rank %d (alpha %d), %.4f of the"
                            + " deltas' energy kept at least, %d differing 1-D tensor(s) left out, %,d bytes%n",
                    r.output(), tuned.getFileName(), base.getFileName(), r.tensors(), Math.min(rank, r.alpha()), r.alpha(),
                    r.minEnergy(), r.vectorsLeftOut(), r.bytes());
            return 0;
        }
    }
}
