package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The request's builder: each setter checks its value and that it is set once, build() what needs them all. */
class BlendRequestTest {
    @Test
    void aPromptAloneTakesEveryOtherSettingFromTheBlender() {
        BlendRequest r = BlendRequest.of("17+62=");
        assertEquals(List.of(Message.user("17+62=")), r.conversation());
        assertEquals("17+62=", r.prompt());
        assertEquals(1, r.seed());
        assertEquals(0, r.topLogprobs());
        assertNull(r.composition());
        assertNull(r.maxTokens());
        assertNull(r.temperature());
        assertNull(r.stop());
        assertNull(r.cancellation(), "nothing to poll");
    }

    @Test
    void theBuilderKeepsWhatWasSet() {
        Cancellation cancel = new Cancellation();
        SharedWork work = new SharedWork();
        BlendRequest r = BlendRequest.builder()
                .messages(List.of(Message.system("be brief"), Message.user("1+1=")))
                .strategy(Strategy.SINGLE).seed(7).timeBudget(Duration.ofSeconds(3)).cancellation(cancel).maxTokens(9)
                .temperature(0.5f).topP(0.9f).stop(List.of("\n")).candidatesPerModel(2).topK(3)
                .generator(Path.of("a.gguf")).sharedWork(work).topLogprobs(4).build();
        assertEquals("1+1=", r.prompt());
        assertEquals(List.of("system", "user"), r.messages().stream().map(m -> m.role()).toList(),
                "the turns as the chat templates read them");
        assertEquals(Strategy.SINGLE.composition(), r.composition());
        assertEquals(7, r.seed());
        assertEquals(Duration.ofSeconds(3), r.timeBudget());
        assertEquals(9, r.maxTokens());
        assertEquals(0.5f, r.temperature());
        assertEquals(0.9f, r.topP());
        assertEquals(List.of("\n"), r.stop());
        assertEquals(2, r.candidatesPerModel());
        assertEquals(3, r.topK());
        assertEquals(Path.of("a.gguf"), r.generator());
        assertSame(work, r.sharedWork());
        assertEquals(4, r.topLogprobs());
        cancel.cancel();
        assertTrue(r.cancellation().isCancelled(), "cancelling reaches the flag the token loops poll");
    }

    @Test
    void aSettingSetTwiceIsRefusedNamingIt() {
        IllegalStateException seed = assertThrows(IllegalStateException.class,
                () -> BlendRequest.builder().prompt("x").seed(1).seed(2));
        assertEquals("seed was already set to 1", seed.getMessage());
        IllegalStateException messages = assertThrows(IllegalStateException.class,
                () -> BlendRequest.builder().prompt("x").messages(List.of(Message.user("y"))));
        assertTrue(messages.getMessage().startsWith("messages was already set"), messages.getMessage());
        IllegalStateException strategy = assertThrows(IllegalStateException.class,
                () -> BlendRequest.builder().strategy(Strategy.SINGLE).composition(Strategy.FULL_BLEND.composition()));
        assertTrue(strategy.getMessage().startsWith("composition was already set"), strategy.getMessage());
    }

    @Test
    void aValueOutOfRangeIsRefusedWhenSetNamingIt() {
        BlendRequest.Builder b = BlendRequest.builder();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.maxTokens(0)).getMessage().startsWith("maxTokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.topP(0f)).getMessage().startsWith("topP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.temperature(-1f)).getMessage()
                .startsWith("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.topLogprobs(21)).getMessage()
                .startsWith("topLogprobs"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.timeBudget(Duration.ZERO)).getMessage()
                .startsWith("timeBudget"));
        assertThrows(IllegalArgumentException.class, () -> b.stop(List.of("")));
        assertThrows(IllegalArgumentException.class, () -> b.messages(List.of(Message.user("a"), Message.assistant("b"))));
        assertThrows(NullPointerException.class, () -> b.prompt(null));
        b.maxTokens(5); // a refused value leaves the setting unset
        assertEquals(5, b.prompt("x").build().maxTokens());
    }

    @Test
    void buildNeedsSomethingToAnswerAndMayBeCalledAgain() {
        assertEquals("a request needs a prompt or messages",
                assertThrows(IllegalStateException.class, () -> BlendRequest.builder().seed(3).build()).getMessage());
        BlendRequest.Builder b = BlendRequest.builder().prompt("x").seed(3);
        assertEquals(b.build().seed(), b.build().seed());
    }
}
