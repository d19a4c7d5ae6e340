package dev.blender.runtime.cli;

import dev.blender.nativebridge.ModelOptions;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Whether (and how long) model files are first loaded in a child JVM, for every command that loads models. */
final class ProbeFlags {
    @Option(names = "--probe-load", description = "load each model file (and LoRA adapter, over its base) in a child JVM "
        + "first, one token decoded there, so that a file that crashes llama.cpp fails with an error instead of killing "
        + "this process; for untrusted files, at the cost of a JVM start and a load per file")
    boolean probeLoad;

    @Option(names = "--probe-timeout", paramLabel = "SECONDS",
            description = "with --probe-load: how long a probe may take before its file is refused (default: 600)")
    Double probeTimeout;

    /** The timeout given, or null for the default. */
    Duration timeout() {
        if (probeTimeout == null) {
            return null;
        }
        try {
            return ModelOptions.probeTimeoutOfSeconds(probeTimeout);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--probe-timeout: " + e.getMessage(), e);
        }
    }

    /** {@code options} with these flags on top. */
    ModelOptions apply(ModelOptions options) {
        Duration t = timeout();
        ModelOptions o = probeLoad ? options.withProbeLoad(true) : options;
        return t == null ? o : o.withProbeTimeout(t);
    }
}
