package dev.blender.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** llama-batched-bench as the native anchor: how it is asked, and how its JSON lines are read. */
class BatchedBenchAnchorTest {
    @TempDir
    Path dir;

    /** A stand-in for llama-batched-bench that records its arguments and prints {@code output}. */
    private Path fake(String output, int exit) throws IOException {
        Path args = dir.resolve("args");
        Path script = dir.resolve("llama-batched-bench");
        Files.writeString(script, "#!/bin/sh\necho \"$@\" > " + args + "\ncat <<'EOF'\n" + output + "\nEOF\n"
                + "echo 'main: done' >&2\nexit " + exit + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private static String line(int pl, int tg, double tTg, int threads) {
        return "{\"n_kv_max\": 1024, \"n_threads\": " + threads + ", \"pp\": 28, \"tg\": " + tg + ", \"pl\": " + pl
                + ", \"t_pp\": 0.3, \"t_tg\": " + tTg + ", \"speed_tg\": 19.4}";
    }

    @Test
    void itIsAskedForOneAndFourSequencesOnTheSameFileAndItsStepsAreRead() throws IOException {
        Path bin = fake("llama_model_loader: a log line\n" + line(1, 31, 0.9610, 2) + "\n" + line(4, 31, 1.8910, 2), 0);
        BatchedBenchAnchor.Steps s = new BatchedBenchAnchor(bin).measure(Path.of("m.gguf"), 2, 1024, 28, 31);
        assertEquals(31.0, s.oneMillis(), 1e-9);
        assertEquals(61.0, s.fourMillis(), 1e-9);
        assertEquals(2, s.threads());
        String args = Files.readString(dir.resolve("args")).strip();
        assertEquals("-m m.gguf -c 1024 -npp 28 -ntg 31 -npl 1,4 -pps --output-format jsonl -t 2 -tb 2", args);
        new BatchedBenchAnchor(bin).measure(Path.of("m.gguf"), 0, 1024, 28, 31);
        assertTrue(!Files.readString(dir.resolve("args")).contains("-t "), "automatic threads: llama.cpp's own default");
    }

    @Test
    void aFailedOrSilentRunIsAnErrorSayingWhat() throws IOException {
        IOException failed = assertThrows(IOException.class, () -> new BatchedBenchAnchor(fake("", 1))
                .measure(Path.of("m.gguf"), 1, 1024, 28, 31));
        assertTrue(failed.getMessage().contains("exit code 1") && failed.getMessage().contains("main: done"),
                failed.getMessage());
        IOException partial = assertThrows(IOException.class, () -> new BatchedBenchAnchor(fake(line(1, 31, 1, 2), 0))
                .measure(Path.of("m.gguf"), 1, 1024, 28, 31));
        assertTrue(partial.getMessage().contains("no result for 1 and 4 sequences"), partial.getMessage());
    }

    @Test
    void theEnvironmentNamesTheBinaryOrNothing() throws IOException {
        assertTrue(BatchedBenchAnchor.fromEnvironment(Map.of()).isEmpty());
        Path bin = fake("", 0);
        assertTrue(BatchedBenchAnchor.fromEnvironment(Map.of(BatchedBenchAnchor.ENVIRONMENT, bin.toString())).isPresent());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchedBenchAnchor
                .fromEnvironment(Map.of(BatchedBenchAnchor.ENVIRONMENT, dir.resolve("nothing").toString())));
        assertTrue(e.getMessage().contains(BatchedBenchAnchor.ENVIRONMENT), e.getMessage());
    }
}
