package dev.blender.runtime.cli;

import dev.blender.nativebridge.ModelOptions;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Which models to load and how, for every command that loads models given on the command line. */
final class ModelFlags {
    // strings, not paths: a Path would fold the "//" of a remote member's URL
    @Option(names = {"-m", "--model"}, paramLabel = "GGUF|URL#MODEL", description = {
        "a model that answers (repeat for each): a GGUF file, or an OpenAI-compatible server",
        "http://host:port/v1#model (the model after #, also the member's name)"})
    List<String> models = new ArrayList<>();

    @Option(names = "--threads", defaultValue = "0", description = "threads per model (0 = automatic)")
    int threads;

    @Option(names = "--gpu-layers", defaultValue = "0",
            description = "layers to offload to a GPU (-1 = all; needs `blender natives install cuda` or vulkan; without a GPU the CPU runs them, with one warning)")
    int gpuLayers;

    @Mixin
    ProbeFlags probe = new ProbeFlags();

    /** Each -m as a generator: a file, or a remote member for a URL. */
    void addGenerators(BlenderConfig.Builder b) {
        for (String m : models) {
            if (RemoteEndpoint.isUrl(m)) {
                try {
                    b.generator(RemoteEndpoint.parse(m));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("-m " + m + ": " + e.getMessage(), e);
                }
            } else {
                b.generator(Path.of(m));
            }
        }
    }

    /** Each -m as a model file, for commands that load the models themselves. */
    List<Path> files(String command) {
        List<Path> out = new ArrayList<>();
        for (String m : models) {
            if (RemoteEndpoint.isUrl(m)) {
                throw new IllegalArgumentException(command + " reads every model's logits, so it takes GGUF files only,"
                        + " not the server " + m);
            }
            out.add(Path.of(m));
        }
        return out;
    }

    ModelOptions modelOptions() {
        return probe.apply(ModelOptions.defaults().withThreads(threads).withGpuLayers(gpuLayers));
    }
}
