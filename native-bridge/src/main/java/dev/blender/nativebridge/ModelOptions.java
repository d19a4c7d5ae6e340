package dev.blender.nativebridge;

import java.time.Duration;
import java.util.Objects;

/**
 * How to load a model. Immutable; start from {@link #defaults()} and change what you need:
 * {@code ModelOptions.defaults().withGpuLayers(99).withThreads(4)}.
 *
 * @param gpuLayers    layers to offload to a GPU (0 = CPU only; -1 or more than the layer count = all).
 *                     Without a GPU device ({@link LlamaBackend#devices()}) the model runs on the CPU,
 *                     with one warning per process on logger {@code dev.blender.llama}.
 * @param mmap         memory-map the file instead of reading it (fast load, pages shared between processes);
 *                     a CPU-only model with Q4_0 or IQ4_NL matrices is read all the same, because llama.cpp
 *                     repacks those into memory of their own and the mapped pages would stay resident beside
 *                     them ({@link LlamaModel#mapped()})
 * @param mlock        lock the weights in RAM
 * @param vocabOnly    load the vocabulary and metadata only, no weights: enough for tokenising and for
 *                     vocabulary checks, and fast
 * @param checkTensors ask llama.cpp to validate tensor data (slow: reads every weight)
 * @param threads      default thread count for contexts of this model that do not set their own
 *                     (0 = automatic, see {@link ContextOptions#threads()})
 * @param probeLoad    load the file and decode one token in a child JVM first ({@link ModelProbe}), so that a
 *                     native abort on an untrusted file kills the child, not this process; once per file
 *                     (path, size, modification time) per process, at the cost of a JVM start and a load;
 *                     a LoRA adapter loaded against the model ({@link LoraAdapter#load}) is probed the same way,
 *                     over its base
 * @param probeTimeout how long a probe may take before the file is refused as hanging (default 600 s); a probe
 *                     that times out is not remembered, so a later load with a longer limit probes again
 */
public record ModelOptions(int gpuLayers, boolean mmap, boolean mlock, boolean vocabOnly, boolean checkTensors,
                           int threads, boolean probeLoad, Duration probeTimeout) {
    /** Generous: real loads of files that fit in memory take seconds, and the probe only guards against a hang. */
    public static final Duration DEFAULT_PROBE_TIMEOUT = Duration.ofSeconds(600);

    public ModelOptions {
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be >= -1 (0 = CPU only, -1 = all layers), was "
                    + gpuLayers);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = automatic), was " + threads);
        }
        Objects.requireNonNull(probeTimeout, "probeTimeout");
        if (probeTimeout.isNegative() || probeTimeout.isZero()) {
            throw new IllegalArgumentException("probeTimeout must be positive, was " + probeTimeout.toMillis() + " ms");
        }
    }

    /** CPU only, memory-mapped, weights loaded, automatic threads. */
    public static ModelOptions defaults() {
        return new ModelOptions(0, true, false, false, false, 0, false, DEFAULT_PROBE_TIMEOUT);
    }

    public ModelOptions withGpuLayers(int n) {
        return new ModelOptions(n, mmap, mlock, vocabOnly, checkTensors, threads, probeLoad, probeTimeout);
    }

    public ModelOptions withMmap(boolean on) {
        return new ModelOptions(gpuLayers, on, mlock, vocabOnly, checkTensors, threads, probeLoad, probeTimeout);
    }

    public ModelOptions withMlock(boolean on) {
        return new ModelOptions(gpuLayers, mmap, on, vocabOnly, checkTensors, threads, probeLoad, probeTimeout);
    }

    public ModelOptions withVocabOnly(boolean on) {
        return new ModelOptions(gpuLayers, mmap, mlock, on, checkTensors, threads, probeLoad, probeTimeout);
    }

    public ModelOptions withCheckTensors(boolean on) {
        return new ModelOptions(gpuLayers, mmap, mlock, vocabOnly, on, threads, probeLoad, probeTimeout);
    }

    public ModelOptions withThreads(int n) {
        return new ModelOptions(gpuLayers, mmap, mlock, vocabOnly, checkTensors, n, probeLoad, probeTimeout);
    }

    public ModelOptions withProbeLoad(boolean on) {
        return new ModelOptions(gpuLayers, mmap, mlock, vocabOnly, checkTensors, threads, on, probeTimeout);
    }

    /** How long a probe ({@link #withProbeLoad}) may run; positive. */
    public ModelOptions withProbeTimeout(Duration timeout) {
        return new ModelOptions(gpuLayers, mmap, mlock, vocabOnly, checkTensors, threads, probeLoad, timeout);
    }

    /**
     * A probe timeout given in seconds, fractions allowed, as the command line ({@code --probe-timeout}) and
     * configuration files ({@code "probeTimeoutSeconds"}) give it.
     *
     * @throws IllegalArgumentException not a positive, finite number of seconds (or under a millisecond)
     */
    public static Duration probeTimeoutOfSeconds(double seconds) {
        if (!(seconds > 0) || Double.isInfinite(seconds) || seconds < 1e-3) {
            throw new IllegalArgumentException("the probe timeout must be a positive number of seconds (at least"
                    + " 0.001), was " + seconds);
        }
        return Duration.ofMillis(Math.round(Math.min(seconds, Long.MAX_VALUE / 1000.0) * 1000));
    }
}
