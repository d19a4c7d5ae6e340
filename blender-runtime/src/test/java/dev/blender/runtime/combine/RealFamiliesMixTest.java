package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.Family;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-token mixing across real families, whose vocabularies differ, matched by the bytes tokens decode to. */
class RealFamiliesMixTest {
    static final List<ChatMessage> CONVERSATION = List.of(ChatMessage.user("What is the capital of France?"));

    @Test
    void llama3AndQwen25VocabulariesAlignByBytesAndTheMixWrites() {
        try (LlamaModel llama = LlamaModel.load(Family.LLAMA_3.model()); LlamaModel qwen = LlamaModel.load(Family.QWEN_2_5.model());
                LlamaContext cl = llama.newContext(MixedGeneratorTest.ctx(256));
                LlamaContext cq = qwen.newContext(MixedGeneratorTest.ctx(256))) {
            Vocab l = llama.vocab();
            Vocab q = qwen.vocab();
            VocabAlignment al = VocabAlignment.of(List.of(l, q), VocabAlignment.Policy.ALIGN_BY_TEXT);
            assertFalse(al.isIdentity(), "different vocabularies");
            // both are byte-level BPE trained apart: most ordinary words are shared outcomes, the rest their own
            assertTrue(al.size() > Math.max(l.size(), q.size()) && al.size() < l.size() + q.size(), "union " + al.size());
            int[] parisL = l.tokenize(" Paris", false, false);
            int[] parisQ = q.tokenize(" Paris", false, false);
            assertEquals(1, parisL.length);
            assertEquals(1, parisQ.length);
            assertNotEquals(parisL[0], parisQ[0], "the same word has other ids in the two families");
            assertEquals(al.unionId(0, parisL[0]), al.unionId(1, parisQ[0]), "one outcome for the same bytes");
            assertEquals(" Paris", al.text(al.unionId(0, parisL[0])));
            // each family's own end of turn means the same, the end of the answer; other control tokens stay apart
            int eot = l.tokenize("<|eot_id|>", false, true)[0];
            int imEnd = q.tokenize("<|im_end|>", false, true)[0];
            assertEquals(al.unionId(0, eot), al.unionId(1, imEnd), "<|eot_id|> and <|im_end|> are one outcome");
            assertNotEquals(al.unionId(0, l.tokenize("<|start_header_id|>", false, true)[0]),
                    al.unionId(1, q.tokenize("<|im_start|>", false, true)[0]));

            MixedGenerator mix = new MixedGenerator(List.of(cl, cq), CombineOptions.linear(0.5f, 0.5f),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            Candidate c = mix.generate(MixRequest.ofMessages(CONVERSATION).withMaxTokens(12));
            assertTrue(c.tokenCount() >= 1 && !c.text().isEmpty(), c.toString());
            StringBuilder spelt = new StringBuilder();
            for (int u : c.tokens()) {
                spelt.append(al.text(u));
            }
            assertEquals(spelt.toString(), c.text(), "the text is the mixed outcomes' bytes");
        }
    }

    @Test
    void twoFamiliesThatWriteTheSameWordsMixIntoThemAndStopAtAnEndOfTurn() {
        String answer = "The capital is Paris";
        try (LlamaModel llama = LlamaModel.load(Family.LLAMA_3.scripted(answer));
                LlamaModel qwen = LlamaModel.load(Family.QWEN_2_5.scripted(answer));
                LlamaContext cl = llama.newContext(MixedGeneratorTest.ctx(256));
                LlamaContext cq = qwen.newContext(MixedGeneratorTest.ctx(256))) {
            MixedGenerator mix = new MixedGenerator(List.of(cl, cq), CombineOptions.linear(0.5f, 0.5f),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            // each member reads the conversation in its own template and is fed the mixed words as its own tokens
            Candidate c = mix.generate(MixRequest.ofMessages(CONVERSATION).withMaxTokens(16));
            assertEquals(answer, c.text().strip());
            assertEquals(FinishReason.END_OF_GENERATION, c.finishReason(), c.toString());
            assertEquals(4, c.tokenCount(), "one outcome a word, as both families spell them");
        }
    }
}
