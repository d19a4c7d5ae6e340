package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
        /** TRUE, or the exception that explains why llama.cpp could not start (thrown at every use). */
        static final Object RESULT = tryInit();
    }

    private static Object tryInit() {
        try {
            return init();
        } catch (RuntimeException | Error e) {
            return e;
        }
    }

    private static boolean init() {
        try {
            var callback = MethodHandles.lookup().findStatic(LlamaBackend.class, "onLog",
                    MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class));
            MemorySegment stub = Linker.nativeLinker().upcallStub(callback,
                    FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            LlamaCpp.log_set.invokeExact(stub, MemorySegment.NULL);
            NativeLibrary.Loaded lib = NativeLibrary.get();
            if (lib.abi() == LlamaAbi.V0_5_0 && LlamaCpp.backend_load_all_from_path != null) {
                // Backends are plugins beside the library; ggml_backend_load_all() would only look beside
                // the java binary. Must run before llama_backend_init.
                try (Arena arena = Arena.ofConfined()) {
                    LlamaCpp.backend_load_all_from_path.invokeExact(arena.allocateFrom(lib.directory().toString()));
                }
            }
            LlamaCpp.backend_init.invokeExact();
            if (listDevices().stream().noneMatch(d -> d.kind() == BackendDevice.Kind.CPU)) {
                throw new LlamaException("llama.cpp at " + lib.path() + " found no CPU backend in " + lib.directory()
                        + " (libggml-cpu-*); reinstall it with `blender natives install`");
            }
            return true;
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * Loads the library and initialises llama.cpp if that has not happened yet.
     *
     * @throws LlamaException the library cannot be found or loaded, is of an unsupported version, or
     *                        has no CPU backend; every later call throws the same explanation
     */
    public static void ensureInitialized() {
        NativeLibrary.get(); // a missing or unsupported library explains itself before any binding is made
        Object r = Holder.RESULT;
        if (r != Boolean.TRUE) {
            Throwable t = (Throwable) r;
            throw new LlamaException(t instanceof LlamaException ? t.getMessage()
                    : "llama.cpp could not be initialised: " + t, t);
        }
    }

    /** The ABI of the native library in use. */
    public static LlamaAbi abi() {
        ensureInitialized();
        return NativeLibrary.get().abi();
    }

    /** The version the native library reports ({@code b4916}, {@code 0.5.0-dev}, ...). */
    public static String version() {
        ensureInitialized();
        return NativeLibrary.get().version();
    }

    /**
     * The compute devices llama.cpp's backends found, in llama.cpp's order, with their memory as
     * reported now. The CPU is always there; GPUs only with a GPU build (v0.5.0's CUDA or Vulkan
     * package) and a working driver.
     */
    public static List<BackendDevice> devices() {
        ensureInitialized();
        return listDevices();
    }

    private static List<BackendDevice> listDevices() {
        try (Arena arena = Arena.ofConfined()) {
            long n = (long) LlamaCpp.backend_dev_count.invokeExact();
            List<BackendDevice> out = new ArrayList<>();
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            for (long i = 0; i < n; i++) {
                MemorySegment dev = (MemorySegment) LlamaCpp.backend_dev_get.invokeExact(i);
                String name = cString((MemorySegment) LlamaCpp.backend_dev_name.invokeExact(dev));
                String description = cString((MemorySegment) LlamaCpp.backend_dev_description.invokeExact(dev));
                int type = (int) LlamaCpp.backend_dev_type.invokeExact(dev);
                free.set(JAVA_LONG, 0, 0L);
                total.set(JAVA_LONG, 0, 0L);
                LlamaCpp.backend_dev_memory.invokeExact(dev, free, total);
                BackendDevice.Kind kind = NativeLibrary.get().abi().deviceKind(type);
                long freeBytes = free.get(JAVA_LONG, 0);
                long totalBytes = total.get(JAVA_LONG, 0);
                if (kind == BackendDevice.Kind.CPU && totalBytes == 0
                        && ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                    // b4916's CPU backend reports no memory; the host's is what it uses
                    freeBytes = os.getFreeMemorySize();
                    totalBytes = os.getTotalMemorySize();
                }
                out.add(new BackendDevice(name, description, kind, freeBytes, totalBytes));
            }
            return List.copyOf(out);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    private static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(4096).getString(0);
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

    /**
     * Whether this build of llama.cpp can offload layers to a GPU. At v0.5.0 this says whether a GPU
     * backend is loaded; {@link #devices()} says whether it found a device.
     */
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
