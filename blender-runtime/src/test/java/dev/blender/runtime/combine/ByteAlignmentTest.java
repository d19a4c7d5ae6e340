package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.VocabType;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Mixing across tokenizer families: a generated model with a GPT-2 style byte-level BPE vocabulary
 * ({@code Ġ} for a space) and stories260K (SentencePiece, {@code ▁} and {@code <0xNN>}). The combined
 * next-token distribution is checked against its definition written here from scratch: for every byte
 * string s, p(s) = sum over members of w_k times the sum of p_k(t) over member k's tokens t that decode
 * to s (every end-of-generation token being one outcome). Nothing here uses {@link VocabAlignment}'s
 * own tables.
 */
class ByteAlignmentTest {
    private static Path bpeModel() {
        return TestModels.generated("bpe-llama-mix", SyntheticLlama.builder()
                .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).vocabSize(1200).name("bpe-mix").build());
    }

    /** What a token stands for, by this test's own definition. */
    private static String outcome(Vocab v, int id) {
        if (v.isEndOfGeneration(id)) {
            return "<eog>";
        }
        byte[] b = v.piece(id, false);
        return b.length == 0 || v.isControl(id) ? "control:" + v.text(id) : HexFormat.of().formatHex(b);
    }

    private static double[] softmax(MemorySegment row, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, row.getAtIndex(ValueLayout.JAVA_FLOAT, i));
        }
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(row.getAtIndex(ValueLayout.JAVA_FLOAT, i) - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static MemorySegment lastRow(LlamaContext ctx, int[] tokens) {
        ctx.clearKvCache();
        try (Batch b = Batch.create(tokens.length)) {
            int last = b.addSequence(tokens, 0, 0, true);
            ctx.decode(b);
            return ctx.logits(last);
        }
    }

    @Test
    void linearMixOfBpeAndSentencePieceMatchesItsDefinition() {
        float[] w = {0.4f, 0.6f};
        try (LlamaModel bpe = LlamaModel.load(bpeModel()); LlamaModel spm = LlamaModel.load(TestModels.stories());
             LlamaContext cb = bpe.newContext(MixedGeneratorTest.ctx(256));
             LlamaContext cs = spm.newContext(MixedGeneratorTest.ctx(256))) {
            assertEquals(VocabType.BPE, bpe.vocab().type());
            assertEquals(VocabType.SPM, spm.vocab().type());
            VocabAlignment al = VocabAlignment.of(List.of(bpe.vocab(), spm.vocab()), VocabAlignment.Policy.ALIGN_BY_TEXT);
            assertFalse(al.isIdentity());

            // a space-led word is one outcome for both families: "Ġthe" and "▁the" both decode to " the"
            int ourThe = bpe.vocab().tokenize(" the", false, false)[0];
            int theirThe = spm.vocab().tokenize("the", false, false)[0]; // SentencePiece adds the leading space
            assertEquals(" the", new String(bpe.vocab().piece(ourThe, false), StandardCharsets.UTF_8));
            assertEquals(" the", new String(spm.vocab().piece(theirThe, false), StandardCharsets.UTF_8));
            assertEquals(al.unionId(0, ourThe), al.unionId(1, theirThe));
            assertEquals(" the", al.text(al.unionId(0, ourThe)));

            String prompt = "Once upon a time";
            MemorySegment rowB = lastRow(cb, bpe.vocab().tokenize(prompt));
            MemorySegment rowS = lastRow(cs, spm.vocab().tokenize(prompt));
            double[] pb = softmax(rowB, bpe.vocab().size());
            double[] ps = softmax(rowS, spm.vocab().size());
            Map<String, Double> expected = new HashMap<>();
            for (int id = 0; id < pb.length; id++) {
                expected.merge(outcome(bpe.vocab(), id), w[0] * pb[id], Double::sum);
            }
            for (int id = 0; id < ps.length; id++) {
                expected.merge(outcome(spm.vocab(), id), w[1] * ps[id], Double::sum);
            }

            float[][] gathered = new float[2][al.size()];
            al.gather(0, rowB, gathered[0], false);
            al.gather(1, rowS, gathered[1], false);
            float[] out = new float[al.size()];
            Combiner.vectorized(CombineOptions.linear(w[0], w[1])).combine(gathered, al.size(), out);

            assertEquals(expected.size(), al.size(), "one combined token per distinct outcome");
            Map<String, Integer> seen = new HashMap<>();
            double total = 0;
            for (int u = 0; u < al.size(); u++) {
                int idB = al.memberId(0, u);
                int idS = al.memberId(1, u);
                String key = idB >= 0 ? outcome(bpe.vocab(), idB) : outcome(spm.vocab(), idS);
                if (idB >= 0 && idS >= 0) {
                    assertEquals(key, outcome(spm.vocab(), idS), "a shared combined token means the same bytes");
                }
                assertEquals(null, seen.put(key, u), "outcome " + key + " appears once");
                double p = Math.exp(out[u]);
                total += p;
                assertEquals(expected.get(key), p, 1e-5, "p(" + al.text(u) + ")");
            }
            assertEquals(1.0, total, 1e-4);

            // and generation through the mix starts with the definition's most likely outcome
            String best = expected.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            MixedGenerator mix = new MixedGenerator(List.of(cb, cs), CombineOptions.linear(w[0], w[1]),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            Candidate c = mix.generate(MixRequest.of(prompt).withMaxTokens(12));
            assertTrue(c.tokenCount() >= 1, c.toString());
            int first = c.tokens()[0];
            int idB = al.memberId(0, first);
            assertEquals(best, idB >= 0 ? outcome(bpe.vocab(), idB) : outcome(spm.vocab(), al.memberId(1, first)));
            assertEquals(Math.log(expected.get(best)), c.logProbs()[0], 1e-4);
            System.out.println("byte-level BPE + stories260K, linear: \"" + c.text() + "\"");
        }
    }

    @Test
    void membersAreFedTheirOrdinaryTokensNotByteFallbacks() {
        try (LlamaModel bpe = LlamaModel.load(bpeModel()); LlamaModel spm = LlamaModel.load(TestModels.stories())) {
            VocabAlignment al = VocabAlignment.of(List.of(bpe.vocab(), spm.vocab()), VocabAlignment.Policy.ALIGN_BY_TEXT);
            Vocab v = spm.vocab();
            int ordinary = 0;
            for (int id = 0; id < v.size(); id++) {
                String text = v.text(id);
                if (text.length() == 1 && !v.isControl(id)) { // a one-character piece; its byte token also exists
                    int[] fed = al.feed(1, al.unionId(1, id));
                    assertEquals(1, fed.length);
                    assertEquals(id, fed[0], "'" + text + "' is fed as itself, not as <0x..>");
                    ordinary++;
                }
            }
            assertTrue(ordinary > 20, "stories260K has one-character pieces: " + ordinary);
            // bytes the BPE model spells with its own tokens, e.g. a SentencePiece word it lacks
            int[] spelt = al.feed(0, al.unionId(1, spm.vocab().tokenize("Lily", false, false)[0]));
            StringBuilder sb = new StringBuilder();
            for (int id : spelt) {
                sb.append(new String(bpe.vocab().piece(id, false), StandardCharsets.UTF_8));
            }
            assertEquals(new String(spm.vocab().piece(spm.vocab().tokenize("Lily", false, false)[0], false),
                    StandardCharsets.UTF_8), sb.toString());
        }
    }
}
