package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.AdapterFormatException;
import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.LoraAdapter;
import dev.blender.nativebridge.generation.Sampler;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The child of {@link AdapterFuzzTest} (through {@link FuzzDriver}): arguments {@code seed from to workDir} and
 * then pairs {@code base adapter}. Case {@code i} mutates the adapter of pair {@code i % pairs} with the random
 * stream of {@code (seed, i)} and loads it against that pair's base, which stays loaded for the child's life.
 * Every case must load, be set on a context and decode a prompt and one more token, or throw a
 * {@link LlamaException}; anything else is printed as a {@code BUG} line.
 */
public final class AdapterFuzzRunner {
    private AdapterFuzzRunner() {}

    public static void main(String[] args) throws IOException {
        long seed = Long.parseLong(args[0]);
        int from = Integer.parseInt(args[1]);
        int to = Integer.parseInt(args[2]);
        Path work = Path.of(args[3]);
        List<GgufMutator> mutators = new ArrayList<>();
        List<Path> bases = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 4; i + 1 < args.length; i += 2) {
            Path base = Path.of(args[i]);
            Path adapter = Path.of(args[i + 1]);
            mutators.add(GgufMutator.forAdapter(Files.readAllBytes(adapter), GgufFile.read(adapter), GgufFile.read(base)));
            bases.add(base);
            names.add(adapter.getFileName().toString());
        }
        Map<Path, LlamaModel> models = new HashMap<>();
        PrintStream out = System.out;
        Path file = work.resolve("case.gguf");
        for (int i = from; i < to; i++) {
            int b = i % mutators.size();
            GgufMutator.Mutant m = mutators.get(b).mutate(GgufFuzzRunner.random(seed, i));
            Files.write(file, m.bytes());
            LlamaModel model = models.computeIfAbsent(bases.get(b), LlamaModel::load);
            out.println("CASE " + i + " " + names.get(b) + " " + m.kind() + ": " + m.description());
            out.flush();
            String outcome;
            try {
                outcome = exercise(model, file);
            } catch (LlamaException e) {
                outcome = e instanceof AdapterFormatException a ? "AdapterFormatException/" + a.problem()
                        : e instanceof GgufFormatException g ? "GgufFormatException/" + g.problem()
                        : e.getClass().getSimpleName();
            } catch (RuntimeException | Error e) {
                outcome = "BUG";
                out.println("BUG " + i + " " + e);
            }
            out.println("OUTCOME " + outcome);
        }
        models.values().forEach(LlamaModel::close);
        out.println("DONE");
        out.flush();
    }

    /** Loads the adapter, applies it at scale 1 and decodes through it: the prompt, then the argmax token. */
    static String exercise(LlamaModel model, Path file) {
        try (LoraAdapter adapter = LoraAdapter.load(model, file);
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64).withBatchSize(64)
                     .withThreads(1))) {
            ctx.setLoraAdapter(adapter, 1f);
            int[] prompt = model.vocab().tokenize(GgufFuzzRunner.PROMPT);
            if (prompt.length == 0) {
                prompt = new int[] {0};
            }
            prompt = Arrays.copyOf(prompt, Math.min(prompt.length, 32));
            try (Batch batch = Batch.create(prompt.length)) {
                batch.addSequence(prompt, 0, 0, true);
                ctx.decode(batch);
                int next = Sampler.argmax(ctx.logitsArray(prompt.length - 1), ctx.vocabSize());
                batch.clear();
                batch.add(next, prompt.length, 0, true);
                ctx.decode(batch);
            }
            return "applied";
        }
    }
}
