package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/** Test models: the real ones from ../shared (tests skip with a printed reason when absent) and generated ones. */
public final class TestModels {
    private TestModels() {}

    private static final Map<String, Path> GENERATED = new HashMap<>();
    private static Path tempDir;

    /** The shared folder beside the checkout, from -Dblender.shared or found upwards from the working dir. */
    public static Path shared() {
        String p = System.getProperty("blender.shared");
        if (p != null && Files.isDirectory(Path.of(p))) {
            return Path.of(p).normalize();
        }
        for (String candidate : new String[] {"../shared", "../../shared"}) {
            if (Files.isDirectory(Path.of(candidate))) {
                return Path.of(candidate).toAbsolutePath().normalize();
            }
        }
        return Path.of("../shared").toAbsolutePath().normalize();
    }

    /** A file or folder under shared/, or the test is skipped with the reason printed. */
    public static Path sharedFile(String relative) {
        Path p = shared().resolve(relative);
        if (!Files.exists(p)) {
            System.out.println("SKIPPED: " + p + " is absent (shared models are read at test time, never committed)");
        }
        assumeTrue(Files.exists(p), () -> p + " is absent");
        return p;
    }

    public static Path stories() {
        return sharedFile("models/stories260K.gguf");
    }

    public static Path aidreams() {
        return sharedFile("models/aidreams260K.gguf");
    }

    /** A small generated llama (2 layers, width 64, 512 tokens) for the given seeds, written once per JVM. */
    public static Path tiny(long weightSeed, long vocabularySeed) {
        return generated("tiny-w" + weightSeed + "-v" + vocabularySeed, SyntheticLlama.builder()
                .weightSeed(weightSeed).vocabularySeed(vocabularySeed).build());
    }

    public static Path tiny() {
        return tiny(1, 0);
    }

    /**
     * A small generated T5 (encoder and decoder of 2 blocks, width 64, 512 SentencePiece tokens, decoder starting
     * from the padding token), written once per JVM.
     */
    public static Path t5() {
        return generated("t5", SyntheticLlama.builder().architecture(SyntheticLlama.Architecture.T5)
                .weightSeed(5).name("synthetic-t5").build());
    }

    /** ChatML as a Jinja template, which llama.cpp recognises by its {@code <|im_start|>}. */
    public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** The default generated llama with a {@link #CHATML} chat template in its metadata. */
    public static Path withChatTemplate() {
        return generated("chatml", SyntheticLlama.builder().chatTemplate(CHATML).build());
    }

    public static synchronized Path generated(String name, SyntheticLlama spec) {
        return GENERATED.computeIfAbsent(name, n -> {
            try {
                Path p = tempDir().resolve(n + ".gguf");
                spec.writeTo(p);
                return p;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static synchronized Path tempDir() throws IOException {
        if (tempDir == null) {
            tempDir = Files.createTempDirectory("blender-test-models");
            Path dir = tempDir;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (Stream<Path> s = Files.walk(dir)) {
                    s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                } catch (IOException ignored) {
                    // best effort: it is a temp dir
                }
            }));
        }
        return tempDir;
    }

    /** The logits after decoding {@code prompt} from an empty KV cache into sequence 0 (a fresh read each call). */
    public static float[] logitsAfter(LlamaContext ctx, int[] prompt) {
        ctx.clearKvCache();
        try (Batch b = Batch.create(prompt.length)) {
            b.addSequence(prompt, 0, 0, true);
            ctx.decode(b);
            return ctx.logitsArray(prompt.length - 1);
        }
    }

    /**
     * The reference an encoder-decoder generation is checked against, in raw bridge calls only: encode the prompt
     * into sequence 0, then decode from the model's decoder start token one token at a time, each the argmax of the
     * last logits (lowest id on ties), until end of generation or {@code maxTokens}.
     */
    public static int[] greedyEncoderDecoder(LlamaContext ctx, int[] prompt, int maxTokens) {
        Vocab vocab = ctx.model().vocab();
        ctx.clearKvCache();
        int[] out = new int[maxTokens];
        int n = 0;
        try (Batch batch = Batch.create(Math.max(prompt.length, 1))) {
            batch.addSequence(prompt, 0, 0, false);
            ctx.encode(batch);
            batch.clear();
            batch.add(ctx.model().decoderStartToken(), 0, 0, true);
            ctx.decode(batch);
            for (int pos = 1; n < maxTokens; pos++) {
                float[] logits = ctx.logitsArray(0);
                int best = 0;
                for (int t = 1; t < logits.length; t++) {
                    if (logits[t] > logits[best]) {
                        best = t;
                    }
                }
                if (vocab.isEndOfGeneration(best)) {
                    break;
                }
                out[n++] = best;
                batch.clear();
                batch.add(best, pos, 0, true);
                ctx.decode(batch);
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** The largest element-wise difference of two logit rows. */
    public static double maxAbsDiff(float[] x, float[] y) {
        double m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs((double) x[i] - y[i]));
        }
        return m;
    }
}
