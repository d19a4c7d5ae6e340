package dev.blender.nativebridge;

import dev.blender.nativebridge.gguf.GgufFile;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * Children for {@link ModelProbeTest} that die as no known file makes the real one die: the fuzz-found
 * aborts are all caught by the Java checks now, so a test of what happens when one is missed needs a child
 * that skips them or aborts on its own.
 */
final class ProbeChildren {
    private ProbeChildren() {}

    /** Loads the file as the real child does, then calls libc abort(), the end of every GGML_ASSERT. */
    static final class AbortAfterLoad {
        public static void main(String[] args) throws Throwable {
            System.out.println(ModelProbe.START);
            try (LlamaModel m = LlamaModel.load(Path.of(args[0]), ModelProbe.childOptions(args))) {
                ModelProbe.decodeOne(m);
            }
            System.out.println("about to abort");
            System.out.flush();
            Linker linker = Linker.nativeLinker();
            MethodHandle abort = linker.downcallHandle(linker.defaultLookup().find("abort").orElseThrow(),
                    FunctionDescriptor.ofVoid());
            abort.invokeExact();
        }
    }

    /**
     * Loads the base, then hands the adapter (the fifth argument) to llama.cpp's adapter loader without
     * {@link LoraAdapter#validate} or the ABI checks of {@link LoraAdapter#load}, as before they existed.
     */
    static final class UncheckedAdapter {
        public static void main(String[] args) throws Throwable {
            System.out.println(ModelProbe.START);
            LlamaBackend.ensureInitialized();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment params = (MemorySegment) LlamaCpp.model_default_params.invokeExact((SegmentAllocator) arena);
                LlamaCpp.ABI.writeModelParams(params, ModelProbe.childOptions(args));
                MemorySegment model = (MemorySegment) LlamaCpp.model_load_from_file.invokeExact(
                        arena.allocateFrom(args[0]), params);
                GgufFile.read(Path.of(args[4]));
                MemorySegment adapter = (MemorySegment) LlamaCpp.adapter_lora_init.invokeExact(model,
                        arena.allocateFrom(args[4]));
                System.out.println(adapter.equals(MemorySegment.NULL) ? "PROBE ERROR refused" : "PROBE OK");
                System.exit(adapter.equals(MemorySegment.NULL) ? 2 : 0);
            }
        }
    }

    /** Hands the file to llama.cpp without {@link dev.blender.nativebridge.gguf.ModelChecks}, as before they existed. */
    static final class Unchecked {
        public static void main(String[] args) throws Throwable {
            System.out.println(ModelProbe.START);
            LlamaBackend.ensureInitialized();
            GgufFile.read(Path.of(args[0]));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment params = (MemorySegment) LlamaCpp.model_default_params.invokeExact((SegmentAllocator) arena);
                LlamaCpp.ABI.writeModelParams(params, ModelProbe.childOptions(args));
                MemorySegment ptr = (MemorySegment) LlamaCpp.model_load_from_file.invokeExact(
                        arena.allocateFrom(args[0]), params);
                System.out.println(ptr.equals(MemorySegment.NULL) ? "PROBE ERROR refused" : "PROBE OK");
                System.exit(ptr.equals(MemorySegment.NULL) ? 2 : 0);
            }
        }
    }
}
