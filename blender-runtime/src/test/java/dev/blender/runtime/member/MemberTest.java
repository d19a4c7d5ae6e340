package dev.blender.runtime.member;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Each kind of member's identity (what compositions call it) and display name (what its candidates say). */
class MemberTest {

    @Test
    void aModelFileIsNamedByItsFileWithoutGgufAndShownWithIt() {
        Member m = new Member.Local(Path.of("models", "qwen2.5-0.5b.Q4.gguf"));
        assertEquals("qwen2.5-0.5b.Q4", m.name());
        assertEquals("qwen2.5-0.5b.Q4.gguf", m.label());
        assertTrue(m.answersTo("qwen2.5-0.5b.Q4"));
        assertTrue(m.answersTo("qwen2.5-0.5b.Q4.gguf"));
        assertFalse(m.answersTo("qwen2.5-0.5b"));
        assertTrue(m.givesTokens());
        // a file without the extension is its own short name
        assertEquals("model.bin", new Member.Local(Path.of("model.bin")).name());
    }

    @Test
    void anAdapterMemberIsItsNameEverywhere() {
        Member m = new Member.Adapter(Path.of("base.gguf"), Path.of("add.lora.gguf"), 1f, "add");
        assertEquals("add", m.name());
        assertEquals("add", m.label());
        assertTrue(m.answersTo("add"));
        assertFalse(m.answersTo("add.lora.gguf"), "its adapter file is not its name");
        assertFalse(m.answersTo("base"));
        assertTrue(m.givesTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Member.Adapter(Path.of("base.gguf"), Path.of("x.gguf"), Float.NaN, "x"));
        assertTrue(e.getMessage().contains("scale"), e.getMessage());
    }

    @Test
    void aRemoteMemberIsItsNameEverywhereAndGivesNoTokens() {
        Member m = new Member.Remote(RemoteEndpoint.of("http://127.0.0.1:8080/v1", "qwen2.5:0.5b"), "qwen");
        assertEquals("qwen", m.name());
        assertEquals("qwen", m.label());
        assertTrue(m.answersTo("qwen"));
        assertFalse(m.answersTo("qwen2.5:0.5b"), "the server's model id is not the member's name");
        assertFalse(m.givesTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Member.Remote(RemoteEndpoint.of("http://127.0.0.1:8080/v1", "m"), "a/b"));
        assertTrue(e.getMessage().contains("without slashes"), e.getMessage());
    }

    @Test
    void membersAreValuesEqualByWhatTheyAre() {
        assertEquals(new Member.Local(Path.of("a.gguf")), new Member.Local(Path.of("a.gguf")));
        assertFalse(new Member.Adapter(Path.of("b.gguf"), Path.of("a.gguf"), 1f, "a")
                .equals(new Member.Adapter(Path.of("b.gguf"), Path.of("a.gguf"), 0.5f, "a")), "another scale");
    }
}
