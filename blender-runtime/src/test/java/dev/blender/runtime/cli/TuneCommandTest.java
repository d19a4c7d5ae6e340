package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TuneCommandTest {
    @Test
    void oneBudgetAtATime(@TempDir Path dir) {
        RunCommandTest.Run r = RunCommandTest.run("", "tune", "--budget-tokens", "100", "--budget-ms", "5", "--out",
                dir.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--budget-tokens or --budget-ms, not both"), r.err());
    }

    @Test
    void aTuneWritesFilesThatRunAndConfigureTheBlender(@TempDir Path dir) throws Exception {
        RunCommandTest.assumeArith();
        Path out = dir.resolve("tuned");
        RunCommandTest.Run r = RunCommandTest.run("", "tune", "--recipe", "arith", "--limit", "6", "--strategies",
                "member:answerer-a,fuse:frequent3", "--samples", "2", "--temperatures", "0.8", "--budget-tokens", "60",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("chosen (budget 60 tokens per problem): member:answerer-a"), r.out());
        assertTrue(r.err().contains("tune: ") && r.err().contains("confirm: "), "progress of both halves: " + r.err());
        for (String f : new String[] {"strategy.json", "config.json", "frontier.json", "frontier.svg", "frontier-ms.svg",
            "frontier-confirm.svg"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        RunCommandTest.Run run = RunCommandTest.run("", "run", "--strategy", out.resolve("strategy.json").toString(),
                "17+62=");
        assertEquals(0, run.code(), run.err());
        assertEquals("80", run.out().strip(), "answerer-a alone answers 80 (README)");
        RunCommandTest.Run configured = RunCommandTest.run("", "run", "--config", out.resolve("config.json").toString(),
                "17+62=");
        assertEquals(0, configured.code(), configured.err());
        assertEquals("80", configured.out().strip());
    }

    @Test
    void aCompositionInJsonKeepsItsCommasAndABadOneNamesTheFlag(@TempDir Path dir) throws Exception {
        RunCommandTest.assumeArith();
        // picocli's own split would have cut this at its commas; eval reads the flag the same way
        RunCommandTest.Run r = RunCommandTest.run("", "tune", "--recipe", "arith", "--limit", "4", "--strategies",
                "member:answerer-a,{\"name\": \"mine\", \"stages\": [\"sample\", {\"stage\": \"rank\", \"topK\": 1}]}", "--samples", "1", "--temperatures", "0.8",
                "--out", dir.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.readString(dir.resolve("frontier.json")).contains("\"mine"), "the JSON composition was searched");
        RunCommandTest.Run bad = RunCommandTest.run("", "tune", "--recipe", "arith", "--strategies", "no-such-thing",
                "--out", dir.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--strategies: "), bad.err());
    }
}
