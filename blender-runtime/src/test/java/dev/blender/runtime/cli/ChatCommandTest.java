package dev.blender.runtime.cli;

import static dev.blender.runtime.cli.RunCommandTest.assumeArith;
import static dev.blender.runtime.cli.RunCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.cli.RunCommandTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatCommandTest {

    @Test
    void answersEachLineAndSwitchesStrategy(@TempDir Path dir) throws Exception {
        assumeArith();
        Path history = dir.resolve("sub/chat_history");
        Run r = run("""
                /strategy TOKEN_COMBINE
                17+62=
                /candidates
                /stats
                /strategy SINGLE
                17+62=
                /stats
                /quit
                1+1=
                """, "chat", "--history", history.toString());
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        assertTrue(out.contains("blend> strategy token-combine\n"), out);
        assertTrue(out.contains("blend> 79\n"), "README: log-linear mix answers 79\n" + out);
        assertTrue(out.contains("token-combine samples no candidates"), out);
        assertTrue(out.contains("last (token-combine): sampling"), out);
        assertTrue(out.contains("blend> 80\n"), "README: answerer-a alone answers 80\n" + out);
        assertTrue(out.contains("session: 2 requests, mean total"), out);
        assertEquals(8, out.split("blend> ", -1).length - 1, "one prompt per line, none after /quit: " + out);
        assertFalse(out.contains("\u001b") || out.contains("\r"), "a dumb terminal writes no escape codes: " + out);
        assertTrue(Files.readString(history).contains("17+62="), "history written, its folder created");
    }

    @Test
    void candidatesShowWhatWasSampledAndRanked(@TempDir Path dir) {
        assumeArith();
        // no /quit: end of input ends the session
        Run r = run("17+62=\n/candidates\n/stats\n", "chat", "--history", dir.resolve("h").toString());
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        assertTrue(out.contains("strategy full-blend"), out);
        assertTrue(out.contains("candidates (8):") && out.contains("  answerer-a.gguf:")
                && out.contains("  answerer-b.gguf:") && out.contains("mean logprob"), out);
        assertTrue(out.contains("candidates in the blend's order (max-logits):") && out.contains("  1. \"") && out.contains("score"), out);
        assertTrue(out.contains("fused answer: "), out);
        assertTrue(out.contains("last (full-blend): sampling") && out.contains("ranking")
                && out.contains("fusion") && out.contains("first token"), out);
        assertTrue(out.contains("session: 1 requests"), out);
    }

    @Test
    void commandsExplainThemselvesAndHistoryFailuresAreHarmless(@TempDir Path dir) throws Exception {
        assumeArith();
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        Run r = run("/candidates\n/stats\n/frobnicate\n/strategy\n/strategy BEST\n/strategy token-combine\n/help\n"
                + "17+62=\n/quit\n", "chat", "--history", notADir.resolve("chat_history").toString());
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        assertTrue(out.contains("blend> nothing answered yet"), out);
        assertTrue(out.contains("unknown command /frobnicate; try /help"), out);
        assertTrue(out.contains("strategy full-blend: sample > rank > fuse (choose from single, self-blend"), out);
        assertTrue(out.contains("unknown strategy 'BEST'; one of"), out);
        assertTrue(out.contains("/candidates") && out.contains("/stats") && out.contains("/quit"), out);
        assertTrue(out.contains("blend> 79\n"), "the chat still works without a history file\n" + out);
        assertTrue(r.err().contains("no chat history"), r.err());
    }
}
