package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.SequenceDecoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ContextOptions#prefixReuse()}: a later prompt decodes only what it does not share with what
 * sequence 0 held, and reads the logits a fresh context would give (to float rounding: the kept cells came
 * from a differently batched decode); anything that changes the cache or the adapters forgets the kept tokens.
 */
class PrefixReuseTest {
    /**
     * A kept prefix changes which kernels decode the rest (one token alone takes llama.cpp's vector path,
     * several its batched one), so the logits agree to float rounding: about 2e-3 on stories260K's logits
     * of magnitude 10.
     */
    private static final double TOLERANCE = 5e-3;
    private static LlamaModel model;

    @BeforeAll
    static void load() {
        model = LlamaModel.load(TestModels.stories());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static ContextOptions options(boolean reuse) {
        return ContextOptions.defaults().withContextSize(256).withMaxSequences(4).withThreads(1).withPrefixReuse(reuse);
    }

    private static int[] tokens(String text) {
        return model.vocab().tokenize(text);
    }

    /** The logits after a prompt's last token, and how many of its tokens the prefill decoded and reused. */
    private record Prefill(float[] logits, long decoded, long reused) {}

    private static Prefill prefill(LlamaContext ctx, int[] prompt) {
        try (SequenceDecoder d = new SequenceDecoder(ctx)) {
            d.prefill(0, prompt);
            return new Prefill(d.logits(0).toArray(JAVA_FLOAT), d.tokensDecoded(), d.reusedTokens());
        }
    }

    private static float[] fresh(int[] prompt) {
        try (LlamaContext ctx = model.newContext(options(false))) {
            return prefill(ctx, prompt).logits();
        }
    }

    @Test
    void aLaterPromptDecodesOnlyWhatItDoesNotShare() {
        int[] history = tokens("Once upon a time, there was a little girl named Lily. She loved to play outside.");
        int[] next = tokens("Once upon a time, there was a little girl named Lily. She loved to play outside. One day");
        int[] other = tokens("Once upon a time, there was a big dog.");
        int shared = 0;
        while (history[shared] == other[shared]) {
            shared++;
        }
        try (LlamaContext ctx = model.newContext(options(true))) {
            Prefill first = prefill(ctx, history);
            assertEquals(history.length, first.decoded());
            assertEquals(0, first.reused());

            Prefill second = prefill(ctx, next);
            assertEquals(history.length, second.reused(), "the whole first prompt was kept");
            assertEquals(next.length - history.length, second.decoded());
            assertTrue(TestModels.maxAbsDiff(fresh(next), second.logits()) <= TOLERANCE);

            Prefill third = prefill(ctx, other);
            assertEquals(shared, third.reused(), "only the common start is kept");
            assertEquals(other.length - shared, third.decoded());
            assertTrue(TestModels.maxAbsDiff(fresh(other), third.logits()) <= TOLERANCE);

            // the same prompt again still decodes its last token: its logits are what a prefill is for
            Prefill again = prefill(ctx, other);
            assertEquals(other.length - 1, again.reused());
            assertEquals(1, again.decoded());
            assertTrue(TestModels.maxAbsDiff(third.logits(), again.logits()) <= TOLERANCE);
        }
    }

    @Test
    void withoutTheOptionEveryPromptIsDecodedWhole() {
        int[] prompt = tokens("Once upon a time, there was a little girl.");
        try (LlamaContext ctx = model.newContext(options(false))) {
            prefill(ctx, prompt);
            Prefill again = prefill(ctx, prompt);
            assertEquals(prompt.length, again.decoded());
            assertEquals(0, again.reused());
        }
    }

    @Test
    void greedyCandidatesAreThoseOfAFreshContext() {
        int[] prompt = tokens("Once upon a time");
        GenerationRequest first = GenerationRequest.of(prompt).withMaxTokens(24)
                .withSampler(SamplerOptions.greedy());
        List<Candidate> expected;
        try (LlamaContext ctx = model.newContext(options(false))) {
            expected = Generator.generate(ctx, first.withCandidates(3));
        }
        try (LlamaContext ctx = model.newContext(options(true))) {
            Generator.generate(ctx, first.withCandidates(2));
            // the candidates ended, but the prompt stayed for the next request
            assertEquals(prompt.length, ctx.sequenceMaxPosition(0) + 1);
            List<Candidate> reused = Generator.generate(ctx, first.withCandidates(3));
            for (int c = 0; c < 3; c++) {
                assertArrayEquals(expected.get(c).tokens(), reused.get(c).tokens(), "candidate " + c);
            }
            assertEquals(expected.get(0).text(), reused.get(0).text());
        }
    }

    @Test
    void aChangeToTheCacheOrTheAdaptersForgetsTheKeptTokens(@TempDir Path dir) throws IOException {
        int[] prompt = tokens("Once upon a time, there was a little girl.");
        try (LlamaContext ctx = model.newContext(options(true))) {
            prefill(ctx, prompt);
            ctx.clearKvCache();
            assertEquals(0, prefill(ctx, prompt).reused(), "cleared");

            ctx.removeSequence(1);
            assertEquals(0, prefill(ctx, prompt).reused(), "any direct edit of the cache");

            try (SequenceDecoder d = new SequenceDecoder(ctx)) {
                d.prefill(1, prompt);
                d.fork(1, 0); // sequence 0 then holds what 1 holds, and is kept as such
            }
            Prefill forked = prefill(ctx, prompt);
            assertEquals(prompt.length - 1, forked.reused(), "a fork into sequence 0 carries its tokens");
            assertTrue(TestModels.maxAbsDiff(fresh(prompt), forked.logits()) <= TOLERANCE);
        }
        try (LlamaModel tiny = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = tiny.newContext(options(true));
             LoraAdapter adapter = LoraAdapter.load(tiny, LoraAdapterTest.write(dir.resolve("a.gguf"),
                     LoraAdapterTest.valid(4), w -> {}))) {
            int[] p = tiny.vocab().tokenize("once upon a time");
            try (SequenceDecoder d = new SequenceDecoder(ctx)) {
                d.prefill(0, p);
            }
            ctx.setLoraAdapter(adapter, 1f);
            try (SequenceDecoder d = new SequenceDecoder(ctx)) {
                d.prefill(0, p);
                assertEquals(0, d.reusedTokens(), "cells computed without the adapter are not reused with it");
                float[] adapted = d.logits(0).toArray(JAVA_FLOAT);
                try (LlamaContext plain = tiny.newContext(options(false))) {
                    plain.setLoraAdapter(adapter, 1f);
                    assertTrue(TestModels.maxAbsDiff(TestModels.logitsAfter(plain, p), adapted) <= TOLERANCE);
                }
            }
        }
    }

    @Test
    void aCancelledPrefillKeepsNothingStale() {
        int[] prompt = tokens("Once upon a time, there was a little girl named Lily.");
        int[] longer = Arrays.copyOf(prompt, prompt.length * 10); // several batches of 64 (llama.cpp's least)
        for (int i = prompt.length; i < longer.length; i++) {
            longer[i] = prompt[i % prompt.length];
        }
        ContextOptions small = options(true).withContextSize(512).withBatchSize(64).withMicroBatchSize(64);
        try (LlamaContext ctx = model.newContext(small)) {
            int[] calls = {0};
            try (SequenceDecoder d = new SequenceDecoder(ctx, () -> calls[0]++ >= 1)) {
                assertThrows(java.util.concurrent.CancellationException.class, () -> d.prefill(0, longer));
                assertEquals(64, d.tokensDecoded(), "cancelled after the first batch");
            }
            Prefill after = prefill(ctx, prompt);
            assertEquals(0, after.reused(), "a half-decoded prompt is not kept");
            assertTrue(TestModels.maxAbsDiff(fresh(prompt), after.logits()) <= TOLERANCE);
        }
    }

    @Test
    void anEmbeddingsContextCannotKeepAPrefix() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> options(true).withEmbeddings(true, PoolingType.MEAN));
        assertTrue(e.getMessage().contains("prefixReuse"), e.getMessage());
    }
}
