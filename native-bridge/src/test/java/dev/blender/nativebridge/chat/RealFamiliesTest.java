package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.Family;
import dev.blender.nativebridge.LlamaAbi;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real families end to end on tiny models: each family's released vocabulary and chat template, random or
 * scripted weights. What is checked against is what others made: the reference renders of expected.jsonl and
 * llama.cpp's own tokenizer.
 */
class RealFamiliesTest {
    private static final List<String> CONVERSATIONS = List.of("user", "system-user", "multi-turn", "system-multi-turn",
            "unicode-code");

    @ParameterizedTest
    @EnumSource(Family.class)
    void eachFamilyLoadsWithItsRealVocabularyOrB4916RefusesIt(Family family) throws IOException {
        long t0 = System.nanoTime();
        Path file = family.model();
        long written = System.nanoTime();
        GgufFile vocabulary = GgufFile.read(family.vocabularyFile());
        List<String> tokens = vocabulary.stringArray("tokenizer.ggml.tokens");
        if (!family.loadsOn(LlamaBackend.abi())) {
            LlamaException e = assertThrows(LlamaException.class, () -> LlamaModel.load(file).close(),
                    family + " is newer than " + LlamaBackend.abi());
            assertTrue(e.getMessage().contains("tokenizer") || e.getMessage().contains("pre-tokenizer")
                    || e.getMessage().contains("vocab"), "the refusal names the vocabulary: " + e.getMessage());
            return;
        }
        long loading = System.nanoTime();
        try (LlamaModel m = LlamaModel.load(file)) {
            long loaded = System.nanoTime();
            Vocab v = m.vocab();
            assertEquals(tokens.size(), v.size(), "every token of the released vocabulary");
            int eot = tokens.indexOf(family.endOfTurn());
            assertTrue(eot >= 0, family.endOfTurn() + " in the vocabulary");
            assertEquals(family.endOfTurn(), v.text(eot));
            assertTrue(v.isEndOfGeneration(eot), family.endOfTurn() + " ends generation");
            assertFalse(v.isEndOfGeneration(tokens.indexOf("a")), "an ordinary token does not");
            assertEquals(family.chatTemplate(), m.chatTemplate().orElseThrow(), "the family's own template");
            System.out.printf("FIGURES %s on %s: %d tokens, file %.1f MB, written in %d ms, loaded in %d ms%n",
                    family, LlamaBackend.abi(), v.size(), Files.size(file) / 1e6, (written - t0) / 1_000_000,
                    (loaded - loading) / 1_000_000);
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void promptsAreTheReferenceRenderOfTheFamilysTemplateTokenised(Family family) {
        family.assumeLoadable();
        Map<String, List<Map<String, Object>>> conversations = ReferenceData.conversations();
        List<ReferenceData.Case> cases = ReferenceData.cases().stream()
                .filter(c -> c.template().equals(family.templateName()) && c.addGenerationPrompt() && c.ok()
                        && CONVERSATIONS.contains(c.conversation()))
                .toList();
        assertTrue(cases.size() >= 3, "reference renders of " + family.templateName() + ": " + cases.size());
        try (LlamaModel m = LlamaModel.load(family.model())) {
            Vocab v = m.vocab();
            String bosText = v.bos() >= 0 ? v.text(v.bos()) : "";
            for (ReferenceData.Case c : cases) {
                List<ChatMessage> messages = new ArrayList<>();
                for (Map<String, Object> turn : conversations.get(c.conversation())) {
                    messages.add(new ChatMessage((String) turn.get("role"), (String) turn.get("content")));
                }
                ChatOptions options = ChatOptions.defaults()
                        .withClock(Clock.fixed(c.now().toInstant(ZoneOffset.UTC), ZoneOffset.UTC));
                int[] prompt = Generator.prompt(m, messages, options);

                // the reference text through llama.cpp's tokenizer, special tokens read as such; the BOS the
                // vocabulary asks for goes first unless the template wrote it
                int[] text = v.tokenize(c.text(), false, true);
                boolean templateWritesBos = !bosText.isEmpty() && c.text().startsWith(bosText);
                int[] expected = v.addsBos() && !templateWritesBos ? prepend(v.bos(), text) : text;
                assertArrayEquals(expected, prompt, family + " " + c.id());
                long bosCount = Arrays.stream(prompt).filter(t -> t == v.bos()).count();
                boolean wantsBos = v.addsBos() || templateWritesBos;
                assertEquals(wantsBos ? 1 : 0, bosCount, family + " " + c.id() + ": BOS exactly once where the family"
                        + " has one");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void generationEndsAtTheFamilysOwnEndOfTurn(Family family) {
        family.assumeLoadable();
        // SentencePiece families read a leading space into the first piece, so the script starts at the word
        String answer = "Four, I think";
        try (LlamaModel m = LlamaModel.load(family.scripted(answer));
                LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(512).withMaxSequences(2).withThreads(1))) {
            Vocab v = m.vocab();
            int[] script = family.tokens(answer + family.endOfTurn());
            int eot = script[script.length - 1];
            assertEquals(family.endOfTurn(), v.text(eot));
            assertTrue(v.isEndOfGeneration(eot));
            int[] prompt = Generator.prompt(m, List.of(ChatMessage.user("What is 2+2?")), ChatOptions.defaults());
            assumeTrue(Arrays.stream(script).noneMatch(t -> t == prompt[prompt.length - 1]),
                    "the scripted model reads the prompt's last token as outside its script");
            List<Candidate> out = Generator.generate(ctx, new GenerationRequest(prompt, 2, 32,
                    SamplerOptions.defaults(), List.of(), 7, null));
            for (Candidate c : out) {
                assertEquals(FinishReason.END_OF_GENERATION, c.finishReason(), family + ": " + c.text());
                assertEquals(answer, c.text().strip(), "the answer without " + family.endOfTurn());
                assertFalse(c.text().contains(family.endOfTurn()));
                assertArrayEquals(Arrays.copyOf(script, script.length - 1), c.tokens(),
                        "the answer's tokens, the end of turn not among them");
            }
        }
    }

    private static int[] prepend(int first, int[] rest) {
        int[] out = new int[rest.length + 1];
        out[0] = first;
        System.arraycopy(rest, 0, out, 1, rest.length);
        return out;
    }
}
