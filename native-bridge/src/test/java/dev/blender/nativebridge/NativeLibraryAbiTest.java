package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which library is accepted, and as which ABI: only the pinned versions, decided from what the library
 * exports; anything else is refused with a message naming the supported versions. The lookups here
 * are fakes whose symbols are real native memory and a real native function (an upcall stub), so
 * {@link NativeLibrary#identify} reads them exactly as it reads a library.
 */
class NativeLibraryAbiTest {
    private static final Path LIB = Path.of("/opt/fake/libllama.so");
    private static String reportedVersion;

    @SuppressWarnings("unused") // called from native code through the upcall stub
    private static MemorySegment version() {
        return Arena.global().allocateFrom(reportedVersion);
    }

    private static MemorySegment versionFunction(String v) throws ReflectiveOperationException {
        reportedVersion = v;
        var target = MethodHandles.lookup().findStatic(NativeLibraryAbiTest.class, "version",
                MethodType.methodType(MemorySegment.class));
        return Linker.nativeLinker().upcallStub(target, FunctionDescriptor.of(ValueLayout.ADDRESS), Arena.global());
    }

    private static SymbolLookup exporting(Map<String, MemorySegment> symbols) {
        return name -> Optional.ofNullable(symbols.get(name));
    }

    private static MemorySegment buildNumber(int n) {
        return Arena.global().allocateFrom(ValueLayout.JAVA_INT, n);
    }

    private static final MemorySegment SOME_FUNCTION = MemorySegment.ofAddress(0x1000);

    @Test
    void b4916IsKnownByItsBuildNumber() {
        var loaded = NativeLibrary.identify(LIB, LIB.getParent(),
                exporting(Map.of("llama_decode", SOME_FUNCTION, "LLAMA_BUILD_NUMBER", buildNumber(4916))));
        assertEquals(LlamaAbi.B4916, loaded.abi());
        assertEquals("b4916", loaded.version());
    }

    @Test
    void v050IsKnownByItsMemoryApiAndVersion() throws Exception {
        var loaded = NativeLibrary.identify(LIB, LIB.getParent(), exporting(Map.of("llama_decode", SOME_FUNCTION,
                "llama_get_memory", SOME_FUNCTION, "llama_version", versionFunction("0.5.0-dev"))));
        assertEquals(LlamaAbi.V0_5_0, loaded.abi());
        assertEquals("0.5.0-dev", loaded.version());
    }

    @Test
    void anotherCurrentVersionIsRefusedByName() throws Exception {
        LlamaException e = assertThrows(LlamaException.class, () -> NativeLibrary.identify(LIB, LIB.getParent(),
                exporting(Map.of("llama_decode", SOME_FUNCTION, "llama_get_memory", SOME_FUNCTION,
                        "llama_version", versionFunction("0.6.1")))));
        assertTrue(e.getMessage().contains("0.6.1") && e.getMessage().contains("b4916")
                && e.getMessage().contains("v0.5.0") && e.getMessage().contains(LIB.toString()), e.getMessage());
    }

    @Test
    void anotherOldBuildIsRefusedByNumber() {
        LlamaException e = assertThrows(LlamaException.class, () -> NativeLibrary.identify(LIB, LIB.getParent(),
                exporting(Map.of("llama_decode", SOME_FUNCTION, "LLAMA_BUILD_NUMBER", buildNumber(5002)))));
        assertTrue(e.getMessage().contains("b5002") && e.getMessage().contains("natives install"), e.getMessage());
    }

    @Test
    void aLibraryWithoutVersionOrWithoutLlamaIsRefused() {
        LlamaException unversioned = assertThrows(LlamaException.class, () -> NativeLibrary.identify(LIB,
                LIB.getParent(), exporting(Map.of("llama_decode", SOME_FUNCTION))));
        assertTrue(unversioned.getMessage().contains("no version"), unversioned.getMessage());
        LlamaException notLlama = assertThrows(LlamaException.class, () -> NativeLibrary.identify(LIB,
                LIB.getParent(), exporting(Map.of())));
        assertTrue(notLlama.getMessage().contains("not a llama.cpp library"), notLlama.getMessage());
    }

    @Test
    void aDirectoryResolvesToItsOneLlamaLibrary(@TempDir Path dir) throws IOException {
        for (String f : new String[] {"libggml-base.so", "libggml.v0.5.0.so", "libggml-cpu-x64.so",
                "libllama-common.so", "libllama.v0.5.0.so", "_nlcBuildMetadata.json"}) {
            Files.writeString(dir.resolve(f), "");
        }
        assertEquals(dir.resolve("libllama.v0.5.0.so"), NativeLibrary.llamaLibraryIn(dir, "test"));
    }

    @Test
    void aDirectoryWithoutOrWithSeveralLlamaLibrariesIsAClearError(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("libggml-base.so"), "");
        LlamaException none = assertThrows(LlamaException.class, () -> NativeLibrary.llamaLibraryIn(dir, "test"));
        assertTrue(none.getMessage().contains("no libllama") && none.getMessage().contains("natives install"),
                none.getMessage());
        Files.writeString(dir.resolve("libllama.v0.5.0.so"), "");
        Files.writeString(dir.resolve("libllama.so"), "");
        LlamaException several = assertThrows(LlamaException.class, () -> NativeLibrary.llamaLibraryIn(dir, "test"));
        assertTrue(several.getMessage().contains("several") && several.getMessage().contains("libllama.so"),
                several.getMessage());
    }
}
