package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LlamaModelTest {

    @Test
    void storiesLoadsWithItsMetadata() {
        long t0 = System.nanoTime();
        try (LlamaModel model = LlamaModel.load(TestModels.stories())) {
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.println("stories260K load (validation + native load): " + ms + " ms");
            assertEquals(512, model.vocab().size());
            assertEquals(VocabType.SPM, model.vocab().type());
            assertEquals(64, model.embeddingLength());
            assertEquals(5, model.layerCount());
            assertEquals(1, model.vocab().bos());
            assertEquals(2, model.vocab().eos());
            assertTrue(model.vocab().addsBos());
            assertTrue(model.parameterCount() > 200_000 && model.parameterCount() < 400_000, "" + model.parameterCount());
            assertTrue(model.description().startsWith("llama"), model.description());
            assertEquals("llama", model.gguf().architecture().orElseThrow());
        }
    }

    @Test
    void tokenizeDetokenizeRoundTrip() {
        try (LlamaModel model = LlamaModel.load(TestModels.stories())) {
            Vocab v = model.vocab();
            String text = "Once upon a time, there was a little girl named Lily. She liked to play!";
            int[] tokens = v.tokenize(text);
            assertEquals(v.bos(), tokens[0], "BOS first");
            assertTrue(tokens.length > 10 && tokens.length < text.length());
            // llama.cpp keeps SentencePiece's leading space when it detokenises
            assertEquals(text, v.detokenize(tokens).stripLeading());
            // pieces joined as bytes give the same text (after the SentencePiece leading space)
            StringBuilder sb = new StringBuilder();
            for (int i = 1; i < tokens.length; i++) {
                sb.append(new String(v.piece(tokens[i], false), StandardCharsets.UTF_8));
            }
            assertEquals(" " + text, sb.toString());
            assertArrayEquals(java.util.Arrays.copyOfRange(tokens, 1, tokens.length), v.tokenize(text, false, false));
        }
    }

    @Test
    void byteFallbackCoversAnyText() {
        try (LlamaModel model = LlamaModel.load(TestModels.tiny())) {
            Vocab v = model.vocab();
            String text = "naïve café — 東京 😀 \t\n{json: [1,2]}";
            int[] tokens = v.tokenize(text, false, false);
            assertEquals(text, v.detokenize(tokens, false, false).stripLeading());
            assertEquals("<0x0A>", v.text(3 + 0x0A));
            assertThrows(IllegalArgumentException.class, () -> v.text(v.size()));
            assertThrows(IllegalArgumentException.class, () -> v.text(-1));
            assertThrows(IllegalArgumentException.class, () -> v.detokenize(new int[] {1, 99999}));
        }
    }

    @Test
    void decodeIsDeterministicAcrossRunsAndFreshContexts() {
        Path path = TestModels.tiny();
        float[] first;
        try (LlamaModel model = LlamaModel.load(path); LlamaContext ctx = model.newContext(small())) {
            first = lastLogits(ctx, model.vocab().tokenize("the quick brown fox"));
            // the same context, reused after clearing, gives exactly the fresh result
            ctx.clearKvCache();
            assertArrayEquals(first, lastLogits(ctx, model.vocab().tokenize("the quick brown fox")));
        }
        try (LlamaModel model = LlamaModel.load(path); LlamaContext ctx = model.newContext(small())) {
            assertArrayEquals(first, lastLogits(ctx, model.vocab().tokenize("the quick brown fox")));
        }
        float max = Float.NEGATIVE_INFINITY;
        float min = Float.POSITIVE_INFINITY;
        for (float f : first) {
            assertTrue(Float.isFinite(f));
            max = Math.max(max, f);
            min = Math.min(min, f);
        }
        assertTrue(max - min > 1e-3, "logits must not be flat");
    }

    @Test
    void logitsViewIsInPlaceAndGoesStaleAtNextDecode() {
        try (LlamaModel model = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = model.newContext(small());
                Batch batch = Batch.create(16)) {
            int[] prompt = model.vocab().tokenize("hello world");
            int last = batch.addSequence(prompt, 0, 0, true);
            ctx.decode(batch);
            MemorySegment view = ctx.logits(last);
            assertEquals(ctx.vocabSize() * 4L, view.byteSize());
            float[] copy = ctx.logitsArray(last);
            for (int i = 0; i < copy.length; i++) {
                assertEquals(copy[i], view.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
            assertThrows(IllegalArgumentException.class, () -> ctx.logits(0), "row 0 asked for no logits");
            assertThrows(IllegalArgumentException.class, () -> ctx.logits(last + 1));
            batch.clear();
            batch.add(dev.blender.nativebridge.generation.Sampler.argmax(copy, copy.length), prompt.length, 0, true);
            ctx.decode(batch);
            assertThrows(IllegalStateException.class, () -> view.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        }
    }

    @Test
    void greedyStoriesTextIsEnglishLike() {
        try (LlamaModel model = LlamaModel.load(TestModels.stories());
                LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(256))) {
            int[] out = Greedy.generate(ctx, model.vocab().tokenize("Once upon a time"), 80);
            String text = model.vocab().detokenize(out).toLowerCase(Locale.ROOT);
            System.out.println("stories260K greedy: " + text);
            long common = Set.of("the", "a", "was", "she", "he", "to", "and", "day", "little", "girl", "play")
                    .stream().filter(w -> (" " + text + " ").matches("(?s).*\\b" + w + "\\b.*")).count();
            assertTrue(common >= 4, "expected common story words in: " + text);
            assertTrue(text.chars().filter(Character::isLetter).count() > text.length() / 2);
            // the same prompt again on a reused context gives the same story
            ctx.clearKvCache();
            assertArrayEquals(out, Greedy.generate(ctx, model.vocab().tokenize("Once upon a time"), 80));
        }
    }

    @Test
    void vocabOnlyLoadTokenizesButCannotRun() {
        try (LlamaModel model = LlamaModel.load(TestModels.stories(), ModelOptions.defaults().withVocabOnly(true))) {
            assertEquals(512, model.vocab().size());
            assertTrue(model.vocab().tokenize("Once upon a time").length > 2);
            assertThrows(IllegalStateException.class, model::newContext);
        }
    }

    @Test
    void chatTemplates() {
        String chatml = TestModels.CHATML;
        Path p = TestModels.withChatTemplate();
        try (LlamaModel model = LlamaModel.load(p)) {
            assertEquals(chatml, model.chatTemplate().orElseThrow());
            String s = model.vocab().applyChatTemplate(List.of(ChatMessage.system("Be brief."), ChatMessage.user("2+2?")),
                    true);
            assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                    + "<|im_start|>assistant\n", s);
        }
        try (LlamaModel model = LlamaModel.load(TestModels.tiny())) {
            assertTrue(model.chatTemplate().isEmpty());
            LlamaException e = assertThrows(LlamaException.class,
                    () -> model.vocab().applyChatTemplate(List.of(ChatMessage.user("hi")), true));
            assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
        }
        LlamaException e = assertThrows(LlamaException.class,
                () -> Vocab.applyBuiltinChatTemplate("no-such-template", List.of(ChatMessage.user("hi")), true));
        assertTrue(e.getMessage().contains("does not support"), e.getMessage());
        assertFalse(Vocab.applyBuiltinChatTemplate("llama3", List.of(ChatMessage.user("hi")), true).isEmpty());
    }

    @Test
    void quantisedGeneratedModelsLoadAndRun() {
        for (var type : List.of(dev.blender.nativebridge.gguf.GgmlType.Q8_0, dev.blender.nativebridge.gguf.GgmlType.Q4_0,
                dev.blender.nativebridge.gguf.GgmlType.F16)) {
            Path p = TestModels.generated("q-" + type, dev.blender.nativebridge.gguf.SyntheticLlama.builder()
                    .tensorType(type).build());
            try (LlamaModel model = LlamaModel.load(p); LlamaContext ctx = model.newContext(small())) {
                assertTrue(model.description().contains(type.name().replace("_", "")) || model.description()
                        .toUpperCase(Locale.ROOT).contains(type.name()), model.description());
                float[] logits = lastLogits(ctx, model.vocab().tokenize("some text"));
                for (float f : logits) {
                    assertTrue(Float.isFinite(f));
                }
            }
        }
    }

    @Test
    void contextReportsWhatItWasCreatedWith() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny());
                LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(256).withBatchSize(128)
                        .withMicroBatchSize(64).withThreads(1).withBatchThreads(2))) {
            assertEquals(1, ctx.threads());
            assertEquals(2, ctx.batchThreads());
            assertEquals(64, ctx.microBatchSize());
            assertEquals(128, ctx.batchSize());
            assertTrue(ctx.contextSize() >= 256);
            ctx.setThreads(2, 1);
            assertEquals(2, ctx.threads());
            assertEquals(1, ctx.batchThreads());
        }
        LlamaBackend.supportsMlock(); // answers without throwing on every platform
    }

    static ContextOptions small() {
        return ContextOptions.defaults().withContextSize(256).withBatchSize(64).withThreads(1);
    }

    static float[] lastLogits(LlamaContext ctx, int[] tokens) {
        try (Batch b = Batch.create(tokens.length)) {
            int last = b.addSequence(tokens, 0, 0, true);
            ctx.decode(b);
            return ctx.logitsArray(last);
        }
    }
}
