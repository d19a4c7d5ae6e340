package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Sampler;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs fuzz cases in a JVM of its own, since a native abort takes the whole JVM with it: the parent
 * ({@link GgufFuzzTest}) reads the last {@code CASE} line this printed to know which case killed it.
 *
 * <p>Arguments: {@code seed from to workDir base...}. Case {@code i} mutates {@code base[i % bases]}
 * with a random stream seeded from {@code (seed, i)}, so any case can be replayed alone with
 * {@code from = i, to = i + 1}. Every case must load (then tokenise, decode and detokenise a few tokens)
 * or throw a {@link LlamaException}; anything else is printed as a {@code BUG} line.
 */
public final class GgufFuzzRunner {
    static final String PROMPT = "Once upon a time 12+7=";

    private GgufFuzzRunner() {}

    public static void main(String[] args) throws IOException {
        long seed = Long.parseLong(args[0]);
        int from = Integer.parseInt(args[1]);
        int to = Integer.parseInt(args[2]);
        Path work = Path.of(args[3]);
        List<GgufMutator> mutators = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 4; i < args.length; i++) {
            Path base = Path.of(args[i]);
            mutators.add(new GgufMutator(Files.readAllBytes(base), GgufFile.read(base)));
            names.add(base.getFileName().toString());
        }
        PrintStream out = System.out;
        Path file = work.resolve("case.gguf");
        for (int i = from; i < to; i++) {
            int b = i % mutators.size();
            GgufMutator.Mutant m = mutators.get(b).mutate(random(seed, i));
            Files.write(file, m.bytes());
            out.println("CASE " + i + " " + names.get(b) + " " + m.kind() + ": " + m.description());
            out.flush();
            String outcome;
            try {
                outcome = exercise(file);
            } catch (LlamaException e) {
                outcome = e instanceof GgufFormatException g ? "GgufFormatException/" + g.problem()
                        : e.getClass().getSimpleName();
            } catch (RuntimeException | Error e) {
                outcome = "BUG";
                out.println("BUG " + i + " " + e);
            }
            out.println("OUTCOME " + outcome);
        }
        out.println("DONE");
        out.flush();
    }

    /** The random stream of case {@code index}. */
    static SplittableRandom random(long seed, int index) {
        return new SplittableRandom(SyntheticLlama.mix(seed, index));
    }

    /** Loads the file and uses it as an application would at first: tokenise, decode, read pieces back. */
    static String exercise(Path file) {
        try (LlamaModel model = LlamaModel.load(file)) {
            Vocab vocab = model.vocab();
            int[] prompt = vocab.tokenize(PROMPT);
            vocab.detokenize(prompt);
            if (prompt.length == 0) {
                return "loaded";
            }
            if (prompt.length > 48) {
                prompt = java.util.Arrays.copyOf(prompt, 48);
            }
            ContextOptions options = ContextOptions.defaults().withContextSize(64).withBatchSize(64).withThreads(1);
            try (LlamaContext ctx = model.newContext(options); Batch batch = Batch.create(prompt.length)) {
                batch.addSequence(prompt, 0, 0, true);
                ctx.decode(batch);
                int pos = prompt.length;
                for (int step = 0; step < 2; step++) {
                    int next = Sampler.argmax(ctx.logitsArray(batch.size() - 1), ctx.vocabSize());
                    vocab.piece(next, true);
                    batch.clear();
                    batch.add(next, pos++, 0, true);
                    ctx.decode(batch);
                }
            }
            return "decoded";
        }
    }
}
