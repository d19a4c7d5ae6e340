package dev.blender.nativebridge;

/**
 * A compute device llama.cpp's backends found: the CPU, and with a GPU build and a driver, each GPU.
 * A snapshot: {@code freeBytes} is what the device reported when {@link LlamaBackend#devices()} ran.
 *
 * @param name        the backend's short name ({@code CPU}, {@code CUDA0}, {@code Vulkan0}, ...)
 * @param description what the driver calls it (the CPU model, the GPU's product name)
 * @param kind        what sort of device it is
 * @param freeBytes   memory free on the device (host memory for the CPU)
 * @param totalBytes  memory of the device (host memory for the CPU)
 */
public record BackendDevice(String name, String description, Kind kind, long freeBytes, long totalBytes) {

    /** {@code enum ggml_backend_dev_type}, in words that do not depend on the ABI's numbering. */
    public enum Kind {
        /** The CPU, using system memory. */
        CPU,
        /** A GPU with its own memory: where offloaded layers go. */
        GPU,
        /** A GPU that uses host memory. */
        INTEGRATED_GPU,
        /** An accelerator used beside the CPU backend (BLAS, AMX). */
        ACCELERATOR,
        /** A device that wraps several others (tensor parallelism). */
        META,
        /** A type this bridge does not know. */
        UNKNOWN;

        /** Whether layers can be offloaded to it ({@link ModelOptions#gpuLayers()}). */
        public boolean isGpu() {
            return this == GPU || this == INTEGRATED_GPU;
        }
    }
}
