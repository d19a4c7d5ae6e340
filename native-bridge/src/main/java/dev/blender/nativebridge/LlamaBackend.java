package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;

/**
 * The process-wide llama.cpp backend: loads the native library, routes llama.cpp's log output to
 * {@link System.Logger} (logger name {@value #LOGGER_NAME}) instead of stderr, and calls
 * {@code llama_backend_init} exactly once. Every other type calls {@link #ensureInitialized()} itself,
 * so users only need this class for the information methods. The backend lives as long as the process;
 * there is nothing to close. Thread-safe.
 */
public final class LlamaBackend {
    /** Name of the {@link System.Logger} that receives llama.cpp's own log lines. */
    public static final String LOGGER_NAME = "dev.blender.llama";

    private static final System.Logger LOG = System.getLogger(LOGGER_NAME);
    private static final int GGML_LOG_LEVEL_DEBUG = 1;
    private static final int GGML_LOG_LEVEL_INFO = 2;
    private static final int GGML_LOG_LEVEL_ERROR = 4;
    private static final int GGML_LOG_LEVEL_CONT = 5;

    /** llama.cpp's error lines on this thread since the last {@link #takeErrors()}; explains failures. */
    private static final ThreadLocal<StringBuilder> ERRORS = ThreadLocal.withInitial(StringBuilder::new);
    private static final ThreadLocal<int[]> LAST_LEVEL = ThreadLocal.withInitial(() -> new int[] {GGML_LOG_LEVEL_INFO});

    private LlamaBackend() {}

    private static final class Holder {
        static final boolean READY = init();
    }

    private static boolean init() {
        try {
            var callback = MethodHandles.lookup().findStatic(LlamaBackend.class, "onLog",
                    MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class));
            MemorySegment stub = Linker.nativeLinker().upcallStub(callback,
                    FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            LlamaCpp.log_set.invokeExact(stub, MemorySegment.NULL);
            LlamaCpp.backend_init.invokeExact();
            return true;
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Loads the library and initialises llama.cpp if that has not happened yet. */
    public static void ensureInitialized() {
        if (!Holder.READY) {
            throw new AssertionError();
        }
    }

    /** The native library in use (bundled and extracted, or the one named by configuration). */
    public static Path libraryPath() {
        ensureInitialized();
        return NativeLibrary.get().path();
    }

    /** llama.cpp's description of the CPU features and backends it was built with. */
    public static String systemInfo() {
        ensureInitialized();
        try {
            return ((MemorySegment) LlamaCpp.print_system_info.invokeExact()).reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Whether this build of llama.cpp can offload layers to a GPU ({@code gpuLayers} has effect). */
    public static boolean supportsGpuOffload() {
        ensureInitialized();
        try {
            return (boolean) LlamaCpp.supports_gpu_offload.invokeExact();
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Whether this build can memory-map model files. */
    public static boolean supportsMmap() {
        ensureInitialized();
        try {
            return (boolean) LlamaCpp.supports_mmap.invokeExact();
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Whether this build can lock model memory ({@link ModelOptions#mlock()} has effect). */
    public static boolean supportsMlock() {
        ensureInitialized();
        try {
            return (boolean) LlamaCpp.supports_mlock.invokeExact();
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Returns and clears llama.cpp's error output on the calling thread. */
    static String takeErrors() {
        StringBuilder sb = ERRORS.get();
        String s = sb.toString().strip();
        sb.setLength(0);
        return s;
    }

    // Called from native code: must never throw, or the JVM exits.
    @SuppressWarnings("unused")
    private static void onLog(int level, MemorySegment text, MemorySegment userData) {
        try {
            int[] last = LAST_LEVEL.get();
            if (level == GGML_LOG_LEVEL_CONT) {
                level = last[0];
            } else {
                last[0] = level;
            }
            // llama.cpp warns loudly about harmless metadata quirks; an embedded library stays quiet
            // unless asked (enable DEBUG on this logger), and errors reach the user in exceptions.
            System.Logger.Level jl = level == GGML_LOG_LEVEL_DEBUG ? System.Logger.Level.TRACE : System.Logger.Level.DEBUG;
            boolean error = level == GGML_LOG_LEVEL_ERROR;
            if (!error && !LOG.isLoggable(jl)) {
                return;
            }
            String line = text.reinterpret(Long.MAX_VALUE).getString(0);
            if (error) {
                StringBuilder sb = ERRORS.get();
                if (sb.length() < 4096) {
                    sb.append(line);
                }
            }
            if (LOG.isLoggable(jl)) {
                LOG.log(jl, line.stripTrailing());
            }
        } catch (Throwable ignored) {
            // a lost log line is better than a dead JVM
        }
    }
}
