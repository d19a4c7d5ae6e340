package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MixedGeneratorTest {
    static ContextOptions ctx(int cells) {
        return ContextOptions.defaults().withContextSize(cells).withThreads(1);
    }

    static Path arith(String name) {
        return TestModels.sharedFile("models/arith/" + name + ".gguf");
    }

    /** The README's exact expectations for equal-weight greedy mixing of answerer-a and answerer-b. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "LOG_LINEAR; 79 116 101 38 135 30 162 89",
        "LINEAR;     79 115 101 38 135 30 163 89"})
    void arithMixturesGiveTheReadmeAnswers(CombineMethod method, String answers) {
        String[] questions = {"17+62=", "25+90=", "55+46=", "26+12=", "57+78=", "89-59=", "75+87=", "67+22="};
        try (LlamaModel a = LlamaModel.load(arith("answerer-a")); LlamaModel b = LlamaModel.load(arith("answerer-b"));
                LlamaContext ca = a.newContext(ctx(64)); LlamaContext cb = b.newContext(ctx(64))) {
            MixedGenerator mix = new MixedGenerator(List.of(ca, cb), CombineOptions.equal(method, 2),
                    VocabAlignment.Policy.REQUIRE_SHARED);
            assertTrue(mix.alignment().isIdentity());
            List<String> got = new ArrayList<>();
            for (String q : questions) {
                Candidate c = mix.generate(MixRequest.of("Q: " + q + " A:").withMaxTokens(8));
                assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
                got.add(c.text().strip());
            }
            assertEquals(List.of(answers.trim().split(" ")), got, method.toString());
        }
    }

    @Test
    void aModelMixedWithItselfDecodesLikeItselfAlone() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext c1 = m.newContext(ctx(256));
                LlamaContext c2 = m.newContext(ctx(256)); LlamaContext single = m.newContext(ctx(256))) {
            Candidate alone = Generator.generate(single,
                    GenerationRequest.of(m.vocab().tokenize("Once upon a time")).withMaxTokens(40)).get(0);
            for (CombineOptions o : List.of(CombineOptions.linear(0.3f, 0.7f), CombineOptions.logLinear(2, 1))) {
                Candidate mixed = new MixedGenerator(List.of(c1, c2), o, VocabAlignment.Policy.REQUIRE_SHARED)
                        .generate(MixRequest.of("Once upon a time").withMaxTokens(40));
                assertArrayEquals(alone.tokens(), mixed.tokens(), o.toString());
                assertEquals(alone.text(), mixed.text());
                for (int i = 0; i < alone.tokenCount(); i++) {
                    assertEquals(alone.logProbs()[i], mixed.logProbs()[i], 1e-4f, "log-prob " + i);
                }
            }
        }
    }

    @Test
    void differentVocabulariesAreRefusedOrAlignedAsConfigured() {
        try (LlamaModel s = LlamaModel.load(TestModels.stories()); LlamaModel d = LlamaModel.load(TestModels.aidreams());
                LlamaContext cs = s.newContext(ctx(512)); LlamaContext cd = d.newContext(ctx(512))) {
            VocabAlignment.IncompatibleVocabularyException e = assertThrows(
                    VocabAlignment.IncompatibleVocabularyException.class,
                    () -> new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 1),
                            VocabAlignment.Policy.REQUIRE_SHARED));
            assertTrue(e.getMessage().contains("different text"), e.getMessage());
            MixedGenerator mix = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 1),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            VocabAlignment al = mix.alignment();
            assertTrue(!al.isIdentity() && al.size() > 512 && al.size() < 1024, "union size " + al.size());
            // each member covers exactly the distinct byte strings (and control texts) of its own tokens
            assertEquals(distinctKeys(s.vocab()), al.coverage(0));
            assertEquals(distinctKeys(d.vocab()), al.coverage(1));
            Candidate first = mix.generate(MixRequest.of("Once upon a time").withMaxTokens(48));
            Candidate again = mix.generate(MixRequest.of("Once upon a time").withMaxTokens(48));
            assertArrayEquals(first.tokens(), again.tokens(), "deterministic");
            assertTrue(first.text().chars().filter(Character::isLetter).count() > 20, first.text());
            System.out.println("stories260K + aidreams260K, linear, aligned by text: " + first.text());
            // every union token either member lacks is spelt with the other's tokens
            for (int u = 0; u < al.size(); u++) {
                for (int k = 0; k < 2; k++) {
                    assertTrue(al.feed(k, u).length >= 1);
                }
            }
        }
    }

    @Test
    void greedyMixOfTwoGeneratedModelsIsDeterministic() {
        try (LlamaModel a = LlamaModel.load(TestModels.tiny(1, 0)); LlamaModel b = LlamaModel.load(TestModels.tiny(2, 0));
                LlamaContext ca = a.newContext(ctx(256)); LlamaContext cb = b.newContext(ctx(256))) {
            for (CombineMethod method : CombineMethod.values()) {
                CombineOptions o = method == CombineMethod.NEGATIVE_EVIDENCE
                        ? CombineOptions.negativeEvidence(2, 0.5f, 0.1f) : CombineOptions.equal(method, 2);
                MixedGenerator mix = new MixedGenerator(List.of(ca, cb), o, VocabAlignment.Policy.REQUIRE_SHARED);
                Candidate x = mix.generate(MixRequest.of("hello there").withMaxTokens(20));
                Candidate y = mix.generate(MixRequest.of("hello there").withMaxTokens(20));
                assertArrayEquals(x.tokens(), y.tokens(), o.toString());
                assertTrue(x.tokenCount() > 0, o.toString());
            }
        }
    }

    @Test
    void perplexityWeightsFavourTheModelThatKnowsThePrompt() {
        float[] w = MixedGenerator.perplexityWeights(new double[] {1.0, 2.0}, 1.0f);
        assertEquals(1 / (1 + Math.exp(-1)), w[0], 1e-6);
        assertEquals(1.0, w[0] + w[1], 1e-6);
        float[] sharp = MixedGenerator.perplexityWeights(new double[] {1.0, 2.0}, 0.1f);
        assertTrue(sharp[0] > 0.9999f);
        try (LlamaModel a = LlamaModel.load(arith("answerer-a")); LlamaModel s = LlamaModel.load(arith("answerer-strong"));
                LlamaContext ca = a.newContext(ctx(64)); LlamaContext cs = s.newContext(ctx(64))) {
            MixedGenerator mix = new MixedGenerator(List.of(ca, cs), CombineOptions.logLinear(1, 1),
                    VocabAlignment.Policy.REQUIRE_SHARED);
            Candidate c = mix.generate(MixRequest.of("Q: 85+95= A:").withMaxTokens(8).withPerplexityWeights(1f));
            assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
        }
    }

    @Test
    void confidenceGateTrustsTheFirstMemberOnlyWhereItIsSure() {
        try (LlamaModel a = LlamaModel.load(arith("answerer-a")); LlamaModel b = LlamaModel.load(arith("answerer-b"));
                LlamaContext ca = a.newContext(ctx(64)); LlamaContext cb = b.newContext(ctx(64))) {
            MixedGenerator mix = new MixedGenerator(List.of(ca, cb), CombineOptions.equal(CombineMethod.LOG_LINEAR, 2),
                    VocabAlignment.Policy.REQUIRE_SHARED);
            MixRequest q = MixRequest.of("Q: 17+62= A:").withMaxTokens(8);
            // a gate any top token passes: answerer-a alone (README: 80); one none passes: the mix (README: 79)
            assertEquals("80", mix.generate(q.withGate(1e-6f)).text().strip());
            assertEquals("79", mix.generate(q.withGate(1f)).text().strip());
            assertEquals("79", mix.generate(q).text().strip());
            assertThrows(IllegalArgumentException.class, () -> q.withGate(1.5f));
        }
    }

    /**
     * A conversation reaches every member through its own chat template, exactly as single-model
     * generation formats it: mixing a templated model with weight 1 against another with weight 0
     * generates what the first generates alone from {@code Generator.prompt(model, messages, true)}.
     */
    @Test
    void aConversationIsFormattedByEachMembersChatTemplate() {
        Path templated = TestModels.withChatTemplate();
        List<dev.blender.nativebridge.ChatMessage> chat = List.of(dev.blender.nativebridge.ChatMessage.system("be kind"),
                dev.blender.nativebridge.ChatMessage.user("hello there"));
        try (LlamaModel a = LlamaModel.load(templated); LlamaModel b = LlamaModel.load(TestModels.tiny(2, 0));
             LlamaContext ca = a.newContext(ctx(256)); LlamaContext cb = b.newContext(ctx(256))) {
            Candidate alone = Generator.generate(ca, GenerationRequest.of(Generator.prompt(a, chat, true))
                    .withMaxTokens(12)).get(0);
            Candidate mixed = new MixedGenerator(List.of(ca, cb), CombineOptions.logLinear(1, 0),
                    VocabAlignment.Policy.REQUIRE_SHARED).generate(MixRequest.ofMessages(chat).withMaxTokens(12));
            assertArrayEquals(alone.tokens(), mixed.tokens());
            Candidate bare = new MixedGenerator(List.of(ca, cb), CombineOptions.logLinear(1, 0),
                    VocabAlignment.Policy.REQUIRE_SHARED).generate(MixRequest.of("hello there").withMaxTokens(12));
            assertTrue(!java.util.Arrays.equals(bare.tokens(), mixed.tokens()) || bare.tokenCount() == 0,
                    "the template changes what the model reads");
        }
        assertThrows(IllegalArgumentException.class, () -> MixRequest.ofMessages(List.of()));
    }

    /** Distinct things a vocabulary's tokens stand for: decoded bytes, or the text of a control token. */
    static int distinctKeys(dev.blender.nativebridge.Vocab v) {
        java.util.Set<String> keys = new java.util.HashSet<>();
        boolean eog = false;
        for (int id = 0; id < v.size(); id++) {
            if (v.isEndOfGeneration(id)) {
                eog = true;
                continue;
            }
            byte[] b = v.piece(id, false);
            keys.add(b.length == 0 || v.isControl(id) ? "control:" + v.text(id)
                    : "bytes:" + java.util.HexFormat.of().formatHex(b));
        }
        return keys.size() + (eog ? 1 : 0);
    }
}
