package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.Family;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.runtime.pipeline.Completion.FinishReason;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@code run} through the library: a blend of three real families, an instruct judge and a fuser. */
class RealFamiliesBlendTest {
    static final List<ChatMessage> CONVERSATION = List.of(ChatMessage.system("Answer in a few words."),
            ChatMessage.user("What is the capital of France?"));
    /** The same turns as a request takes them. */
    static final List<Message> MESSAGES = CONVERSATION.stream().map(m -> new Message(m.role(), m.content())).toList();

    static long stage(BlendResult r, String stage) {
        return r.usage().stages().stream().filter(s -> s.stage().equals(stage)).mapToLong(BlendResult.StageUsage::promptTokens)
                .sum();
    }

    @Test
    void threeFamiliesBlendEachInItsOwnFormatJudgedInTheJudgesAndFused() {
        try (Blender blender = FamilyBlenders.blend().build()) {
            assertTrue(blender.config().judgeTemplate().useChatTemplate(),
                    "a judge with a chat template is asked in it by default");
            BlenderTest.Recorder events = new BlenderTest.Recorder();
            BlendResult r = blender.blend(BlendRequest.builder().messages(MESSAGES).seed(1).build(), events);
            assertEquals("complete", events.log.getLast(), events.log.toString());

            Map<String, String> byModel = r.candidates().stream().collect(Collectors.toMap(BlendResult.Sampled::model,
                    s -> s.candidate().text().strip()));
            for (Family f : FamilyBlenders.GENERATORS) {
                String member = FamilyBlenders.generator(f).getFileName().toString();
                assertEquals(FamilyBlenders.ANSWERS.get(f), byModel.get(member), f + " answered: " + byModel);
            }
            assertTrue(r.candidates().stream().allMatch(s -> s.candidate().finishReason() == FinishReason.END_OF_GENERATION),
                    "each stopped at its own end of turn");
            for (Family f : FamilyBlenders.GENERATORS) {
                assertTrue(r.candidates().stream().noneMatch(s -> s.candidate().text().contains(f.endOfTurn())));
            }
            assertEquals(FamilyBlenders.ownFormatPromptTokens(CONVERSATION), stage(r, "sampling"),
                    "every member read the conversation through its own chat template");
            assertTrue(FamilyBlenders.bareTextPromptTokens(CONVERSATION) < stage(r, "sampling"));

            assertEquals(3, r.ranked().size(), r.ranked().toString());
            assertFalse(r.orderedBy().equals("votes"), "the judge ranked: " + r.orderedBy());
            assertNotNull(r.fused());
            assertEquals(FamilyBlenders.FUSED, r.answer());
            assertEquals(FamilyBlenders.FUSED, events.answer.toString().strip(), "the fused answer streamed");
        }
    }

    @Test
    void theJudgeReadsEachComparisonThroughItsChatTemplate() {
        JudgeTemplate chat = JudgeTemplate.instruct();
        JudgeTemplate bare = new JudgeTemplate(chat.prompt(), chat.rationaleStop(), chat.verdictFirst(),
                chat.verdictSecond(), chat.maxRationaleTokens(), false);
        BlendResult withChat;
        BlendResult without;
        try (Blender blender = FamilyBlenders.blend().judge(FamilyBlenders.judge(), chat).build()) {
            withChat = blender.blend(BlendRequest.builder().messages(MESSAGES).seed(1).build());
        }
        try (Blender blender = FamilyBlenders.blend().judge(FamilyBlenders.judge(), bare).build()) {
            without = blender.blend(BlendRequest.builder().messages(MESSAGES).seed(1).build());
        }
        // a judge's comparisons share their start in the KV cache, so the template's wrapper is decoded at least once
        // and at most once per ordered pair
        long wrapper;
        try (LlamaModel m = LlamaModel.load(FamilyBlenders.judge(), ModelOptions.defaults().withVocabOnly(true))) {
            Vocab v = m.vocab();
            String comparison = chat.render("What is the capital of France?", "Paris, France", "It is Paris");
            String rendered = v.applyChatTemplate(List.of(ChatMessage.user(comparison)), ChatOptions.defaults());
            wrapper = v.tokenizeChat(rendered).length - v.tokenize(comparison).length;
        }
        assertTrue(wrapper > 5, "Llama 3.1's template wraps a user turn in headers and a dated system turn: " + wrapper);
        long extra = stage(withChat, "ranking") - stage(without, "ranking");
        int pairs = 3 * 2;
        assertTrue(extra >= wrapper && extra <= pairs * wrapper, "the judge read its chat format: " + extra
                + " tokens more than the bare comparisons, the wrapper being " + wrapper);
        assertEquals(withChat.answer(), without.answer(), "the fuser answers alike either way");
    }
}
