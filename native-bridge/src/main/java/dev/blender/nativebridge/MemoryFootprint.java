package dev.blender.nativebridge;

import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a model's weights will live: host memory or a GPU's memory. Read off the GGUF tensor table
 * with llama.cpp's placement rule (the same at b4916 and v0.5.0): of the layers 0 .. n_layer (the last
 * being the output layer), those from {@code n_layer + 1 - gpuLayers} on go to the GPU; the token
 * embeddings always stay on the host. A budget can then count the two memories separately, which a
 * single number cannot: 20 GiB of weights on a GPU do not fill 16 GiB of RAM.
 *
 * @param hostBytes   weight bytes held in host memory
 * @param deviceBytes weight bytes held in GPU memory
 */
public record MemoryFootprint(long hostBytes, long deviceBytes) {
    private static final Pattern BLOCK = Pattern.compile("^blk\\.(\\d+)\\.");

    public MemoryFootprint {
        if (hostBytes < 0 || deviceBytes < 0) {
            throw new IllegalArgumentException("byte counts must be >= 0: host " + hostBytes + ", device " + deviceBytes);
        }
    }

    /**
     * The footprint of a model loaded with {@code gpuLayers} (0 = none, -1 = all), where
     * {@code gpuAvailable} says whether there is a GPU device to offload to (without one, everything
     * stays on the host, as {@link LlamaModel#load} does).
     */
    public static MemoryFootprint of(GgufFile gguf, int gpuLayers, boolean gpuAvailable) {
        long blocks = gguf.architecture().flatMap(a -> {
            var n = gguf.integer(a + ".block_count");
            return n.isPresent() ? java.util.Optional.of(n.getAsLong()) : java.util.Optional.empty();
        }).orElse(0L);
        long offloaded = !gpuAvailable || gpuLayers == 0 ? 0 : gpuLayers < 0 ? blocks + 1 : Math.min(gpuLayers, blocks + 1);
        long firstOnDevice = blocks + 1 - offloaded;
        long host = 0;
        long device = 0;
        for (TensorInfo t : gguf.tensors()) {
            long layer;
            Matcher m = BLOCK.matcher(t.name());
            if (m.find()) {
                layer = Long.parseLong(m.group(1));
            } else if (t.name().startsWith("token_embd")) {
                layer = -1; // the input layer never leaves the host
            } else {
                layer = blocks; // output, output_norm and the like belong to the output layer
            }
            if (layer >= firstOnDevice) {
                device += t.byteSize();
            } else {
                host += t.byteSize();
            }
        }
        return new MemoryFootprint(host, device);
    }

    /** Both memories together. */
    public long totalBytes() {
        return hostBytes + deviceBytes;
    }
}
