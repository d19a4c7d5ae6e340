package dev.blender.nativebridge;

import java.nio.file.Path;
import java.util.List;

/**
 * What the native side of this process is: which llama.cpp library runs, from where, with which ABI,
 * on which devices. {@code blender doctor} prints it; an application can log it at start-up.
 *
 * @param javaVersion       the running JDK's version
 * @param javaHome          where the running JDK lives
 * @param platform          operating system and architecture
 * @param library           the llama library file in use
 * @param origin            how it was chosen (bundled, or the property / environment variable naming it)
 * @param abi               the ABI it speaks
 * @param version           the version it reports
 * @param systemInfo        llama.cpp's line of CPU features and backends
 * @param gpuOffload        whether the build can offload layers (a GPU backend is loaded)
 * @param mmap              whether model files can be memory-mapped
 * @param mlock             whether model memory can be locked
 * @param decodesSerialised whether decodes of different contexts take turns process-wide
 * @param automaticThreads  the compute threads a context gets when nothing sets them (the physical cores)
 * @param devices           the compute devices found, with their memory
 */
public record NativeReport(String javaVersion, String javaHome, String platform, Path library, String origin,
                           LlamaAbi abi, String version, String systemInfo, boolean gpuOffload, boolean mmap,
                           boolean mlock, boolean decodesSerialised, int automaticThreads,
                           List<BackendDevice> devices) {

    public NativeReport {
        devices = List.copyOf(devices);
    }

    /**
     * Loads the library if needed and describes it.
     *
     * @throws LlamaException the library cannot be found, loaded or is of an unsupported version (the
     *                        message says which and what to do)
     */
    public static NativeReport collect() {
        LlamaBackend.ensureInitialized();
        return new NativeReport(Runtime.version().toString(), System.getProperty("java.home"),
                System.getProperty("os.name") + " " + System.getProperty("os.arch"), LlamaBackend.libraryPath(),
                NativeLibrary.origin(), LlamaBackend.abi(), LlamaBackend.version(), LlamaBackend.systemInfo().strip(),
                LlamaBackend.supportsGpuOffload(), LlamaBackend.supportsMmap(), LlamaBackend.supportsMlock(),
                LlamaContext.decodesSerialised(), ContextOptions.automaticThreads(), LlamaBackend.devices());
    }

    /** Whether a device can take offloaded layers. */
    public boolean hasGpu() {
        return devices.stream().anyMatch(d -> d.kind().isGpu());
    }
}
