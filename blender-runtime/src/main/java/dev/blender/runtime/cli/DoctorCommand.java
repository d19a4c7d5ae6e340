package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.BackendDevice;
import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.NativeReport;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blender doctor}: which llama.cpp runs, from where, and on which devices. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Shows the JDK, the llama.cpp library in use (path, version, ABI), its CPU features, "
                + "the backends' devices with free/total memory, and whether GPU offload, mmap and mlock work.",
            "Choose another library with BLENDER_LLAMA_LIBRARY=DIR (see `blender natives install --help`).",
            "Exit code 1 when the library cannot be loaded; the message says why."})
final class DoctorCommand implements Callable<Integer> {
    @Option(names = "--json", description = "print the report as one JSON object")
    boolean json;

    @Override
    public Integer call() throws Exception {
        NativeReport r;
        try {
            r = NativeReport.collect();
        } catch (LlamaException e) {
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                o.put("java", Runtime.version().toString());
                o.put("error", e.getMessage());
                System.out.println(o.toPrettyString());
            } else {
                System.out.println("java      " + Runtime.version() + " (" + System.getProperty("java.home") + ")");
                System.out.println("llama.cpp NOT LOADED: " + e.getMessage());
            }
            return 1;
        }
        if (json) {
            System.out.println(toJson(r).toPrettyString());
            return 0;
        }
        System.out.printf("java        %s (%s)%n", r.javaVersion(), r.javaHome());
        System.out.printf("platform    %s%n", r.platform());
        System.out.printf("library     %s%n", r.library());
        System.out.printf("            chosen by: %s%n", r.origin());
        System.out.printf("llama.cpp   %s (ABI %s)%n", r.version(), r.abi().version());
        System.out.printf("system      %s%n", r.systemInfo());
        System.out.printf("gpu offload %s%n", r.hasGpu() ? "yes" : r.gpuOffload() ? "built in, but no GPU device found"
                : "no (a CPU build; `blender natives install cuda` for NVIDIA GPUs)");
        System.out.printf("mmap        %s%n", r.mmap() ? "yes" : "no");
        System.out.printf("mlock       %s%n", r.mlock() ? "yes" : "no");
        System.out.printf("decodes     %s%n", r.decodesSerialised()
                ? "one at a time process-wide (this build computes wrong logits when they overlap)"
                : "in parallel, one context per thread");
        System.out.printf("threads     %d by default (the physical cores this process may use; members that decode"
                + " at once split them)%n", r.automaticThreads());
        System.out.println("devices");
        for (BackendDevice d : r.devices()) {
            System.out.printf("  %-10s %-15s %s, %s free of %s%n", d.name(), d.kind(), d.description(),
                    mib(d.freeBytes()), mib(d.totalBytes()));
        }
        return 0;
    }

    private static String mib(long bytes) {
        return String.format("%,d MiB", bytes >> 20);
    }

    static ObjectNode toJson(NativeReport r) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("java", r.javaVersion());
        o.put("javaHome", r.javaHome());
        o.put("platform", r.platform());
        o.put("library", r.library().toString());
        o.put("origin", r.origin());
        o.put("version", r.version());
        o.put("abi", r.abi().version());
        o.put("systemInfo", r.systemInfo());
        o.put("gpuOffload", r.gpuOffload());
        o.put("gpuDevice", r.hasGpu());
        o.put("mmap", r.mmap());
        o.put("mlock", r.mlock());
        o.put("decodesSerialised", r.decodesSerialised());
        o.put("automaticThreads", r.automaticThreads());
        ArrayNode devices = o.putArray("devices");
        for (BackendDevice d : r.devices()) {
            devices.addObject().put("name", d.name()).put("description", d.description()).put("kind", d.kind().name())
                    .put("freeBytes", d.freeBytes()).put("totalBytes", d.totalBytes());
        }
        return o;
    }
}
