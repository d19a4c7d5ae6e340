package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Extraction of the bundled library: once per cache folder, safe when JVMs start at the same time. */
class NativeLibraryTest {

    /** Run in a child JVM: loads the library from the given cache folder and prints where it came from. */
    public static void main(String[] args) {
        System.out.println("LIBRARY " + LlamaBackend.libraryPath());
        System.out.println("CPU " + LlamaBackend.systemInfo().contains("CPU"));
    }

    @Test
    void fourJvmsStartingAtOnceShareOneExtractedCopy(@TempDir Path cache) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-D" + NativeLibrary.CACHE_PROPERTY + "=" + cache, "-cp", System.getProperty("java.class.path"),
                    NativeLibraryTest.class.getName()).redirectErrorStream(true);
            pb.environment().remove(NativeLibrary.PATH_ENV); // the bundled library, whichever this JVM runs
            processes.add(pb.start());
        }
        String path = null;
        for (Process p : processes) {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM hung");
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.exitValue(), out);
            assertTrue(out.contains("CPU true"), out);
            String line = out.lines().filter(l -> l.startsWith("LIBRARY ")).findFirst().orElseThrow();
            if (path == null) {
                path = line;
            }
            assertEquals(path, line, "every JVM uses the same extracted file");
        }
        assertTrue(path.contains(cache.toString()), path);
        try (Stream<Path> files = Files.walk(cache)) {
            List<Path> regular = files.filter(Files::isRegularFile).toList();
            assertEquals(1, regular.size(), "one library, no temp file left behind: " + regular);
        }
    }

    @Test
    void anExplicitPathThatDoesNotExistIsAClearError(@TempDir Path dir) throws IOException {
        String old = System.getProperty(NativeLibrary.PATH_PROPERTY);
        System.setProperty(NativeLibrary.PATH_PROPERTY, dir.resolve("libnothing.so").toString());
        try {
            LlamaException e = org.junit.jupiter.api.Assertions.assertThrows(LlamaException.class, NativeLibrary::locate);
            assertTrue(e.getMessage().contains("libnothing.so") && e.getMessage().contains(NativeLibrary.PATH_PROPERTY),
                    e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(NativeLibrary.PATH_PROPERTY);
            } else {
                System.setProperty(NativeLibrary.PATH_PROPERTY, old);
            }
        }
    }
}
