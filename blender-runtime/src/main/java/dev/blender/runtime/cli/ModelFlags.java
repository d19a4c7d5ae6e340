package dev.blender.runtime.cli;

import dev.blender.nativebridge.ModelOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Which models to load and how, for every command that loads models given on the command line. */
final class ModelFlags {
    @Option(names = {"-m", "--model"}, paramLabel = "GGUF", description = "a model that answers (repeat for each)")
    List<Path> models = new ArrayList<>();

    @Option(names = "--threads", defaultValue = "0", description = "threads per model (0 = automatic)")
    int threads;

    @Option(names = "--gpu-layers", defaultValue = "0",
            description = "layers to offload to a GPU (-1 = all; needs `blender natives install cuda` or vulkan; without a GPU the CPU runs them, with one warning)")
    int gpuLayers;

    ModelOptions modelOptions() {
        return ModelOptions.defaults().withThreads(threads).withGpuLayers(gpuLayers);
    }
}
