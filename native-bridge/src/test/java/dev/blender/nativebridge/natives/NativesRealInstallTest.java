package dev.blender.nativebridge.natives;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One real install of the cpu variant from the npm registry (skipped, with the reason printed, without npm). */
public class NativesRealInstallTest {

    /**
     * Run in a child JVM, so that this llama.cpp never meets the bundled one: loads the library, finds its C API
     * and loads the ggml backends from the install folder.
     */
    public static void main(String[] args) throws Throwable {
        Path library = Path.of(args[0]);
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
        for (String symbol : new String[] {"llama_backend_init", "llama_model_load_from_file"}) {
            System.out.println(symbol + " " + lookup.find(symbol).isPresent());
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle loadAll = linker.downcallHandle(lookup.find("ggml_backend_load_all_from_path").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        MethodHandle devCount = linker.downcallHandle(lookup.find("ggml_backend_dev_count").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        try (Arena arena = Arena.ofConfined()) {
            loadAll.invokeExact(arena.allocateFrom(library.getParent().toString()));
        }
        long devices = (long) devCount.invokeExact();
        System.out.println("backend devices " + (devices >= 1));
    }

    /** Whether {@code npm --version} runs; prints the reason and skips the calling test when it does not. */
    public static void assumeNpm() {
        boolean works;
        try {
            Process p = new ProcessBuilder("npm", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            works = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            works = false;
        }
        if (!works) {
            System.out.println("SKIPPED: npm is not on the PATH, so the real install from the npm registry cannot run");
        }
        assumeTrue(works, "npm is not on the PATH");
        String arch = System.getProperty("os.arch");
        assumeTrue(System.getProperty("os.name").startsWith("Linux") && Set.of("amd64", "aarch64").contains(arch),
                "prebuilt natives exist for Linux x86_64/aarch64 only");
    }

    @Test
    void installsTheCpuVariantFromTheRegistry(@TempDir Path tmp) throws Exception {
        assumeNpm();
        Path dest = tmp.resolve("natives");
        List<String> steps = new ArrayList<>();
        Installation inst = new NativesInstaller("npm", steps::add).install(Variant.CPU, dest);

        assertEquals(dest.resolve("libllama.v0.5.0.so"), inst.library());
        assertFalse(inst.reused());
        for (String lib : new String[] {"libllama.v0.5.0.so", "libggml.v0.5.0.so", "libggml-base.so", "_nlcBuildMetadata.json"}) {
            assertTrue(Files.size(dest.resolve(lib)) > 0, lib);
        }
        List<String> names;
        try (Stream<Path> files = Files.list(dest)) {
            names = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertTrue(names.stream().anyMatch(n -> n.startsWith("libggml-cpu-") && n.endsWith(".so")), names.toString());
        assertFalse(names.contains("llama-addon.node") || names.contains("libllama-common.so"), names.toString());
        assertTrue(Files.readString(dest.resolve("_nlcBuildMetadata.json")).contains("\"release\":\"v0.5.0\""));
        assertTrue(NativesInstaller.installed(Variant.CPU, dest).isPresent());
        assertTrue(new NativesInstaller("/nonexistent/npm", null).install(Variant.CPU, dest).reused());

        // every library it needs is in the folder: a fresh JVM loads it, finds the C API and a CPU backend
        Path childErr = tmp.resolve("child.err");
        Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                NativesRealInstallTest.class.getName(), inst.library().toString())
                .redirectError(childErr.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String err = Files.readString(childErr);
        assertEquals(0, p.exitValue(), out + err);
        assertEquals(List.of("llama_backend_init true", "llama_model_load_from_file true", "backend devices true"),
                out.lines().toList(), out + err);
        assertTrue(err.contains("loaded CPU backend from " + dest.resolve("libggml-cpu-")), err);
    }
}
