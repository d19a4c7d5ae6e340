package dev.blender.nativebridge.natives;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** The prebuilt llama.cpp builds that can be installed, each mapped to pinned node-llama-cpp npm packages. */
public enum Variant {
    /** CPU only, with a backend per x86 (or ARM) CPU generation picked at run time. */
    CPU("cpu", "CPU only; Linux x86_64 or aarch64; about 11 MB", "libllama.v0.5.0.so"),
    /** NVIDIA GPUs through CUDA 13 (libcudart.so.13, libcublas.so.13), with the CPU backends as well. */
    CUDA("cuda", "NVIDIA GPUs, CUDA 13; Linux x86_64; about 143 MB", "libllama.cuda.v0.5.0.so"),
    /** The cuda variant with its CUDA backend swapped for the CUDA 12 build (libcudart.so.12). */
    CUDA12("cuda12", "NVIDIA GPUs, CUDA 12; Linux x86_64; about 320 MB (two packages)", "libllama.cuda.v0.5.0.so"),
    /** Any Vulkan GPU (libvulkan.so.1), with the CPU backends as well. */
    VULKAN("vulkan", "Vulkan GPUs; Linux x86_64; about 24 MB", "libllama.vulkan.v0.5.0.so");

    private static final String SCOPE = "@node-llama-cpp/";

    private static final NpmPackage LINUX_X64 = new NpmPackage(SCOPE + "linux-x64",
            "sha512-5uCCDNqWCNfaAm8aR/Uzxbo4HBpKgNF91kCHPepKhgMgV2OAmatoefbOlMihsqCiH2Od35E/eUHQCFbfRBJuOg==",
            10_824_547, "package/bins/linux-x64/", Set.of());
    private static final NpmPackage LINUX_ARM64 = new NpmPackage(SCOPE + "linux-arm64",
            "sha512-W+7naKCXX9/eEjjFmRS8vvx91QyLXDbeFxexZc3bh/PtQABZgmRL3C0AtYYXn4YGTj/3Qor4lWZn2tpjZFPLdQ==",
            7_340_902, "package/bins/linux-arm64/", Set.of());
    private static final NpmPackage LINUX_X64_CUDA = new NpmPackage(SCOPE + "linux-x64-cuda",
            "sha512-8rQCjyNNLZJUFit+YpjwlC4hwkKgOMIkB2wuycKBf8NU2O3ySKbiWZQ8aw9ku2nUTXjSnUIrE6KB88itduTBuA==",
            142_898_030, "package/bins/linux-x64-cuda/", Set.of());
    /** The cuda package without its CUDA 13 backend, which cuda12 replaces. */
    private static final NpmPackage LINUX_X64_CUDA_BASE = new NpmPackage(LINUX_X64_CUDA.name(),
            LINUX_X64_CUDA.integrity(), LINUX_X64_CUDA.size(), LINUX_X64_CUDA.binsDir(), Set.of("libggml-cuda.so"));
    /** Ships only {@code bins/linux-x64-cuda/fallback/libggml-cuda.so}, built against CUDA 12. */
    private static final NpmPackage LINUX_X64_CUDA_EXT = new NpmPackage(SCOPE + "linux-x64-cuda-ext",
            "sha512-4e5ajkiM2aR2WAdB/N/ACk4weEhHvOAIrzxZPsIX0xDFW5+6hhShuy1/vs88SK9NGdgAco9IyE28eYS0H1efpA==",
            176_664_119, "package/bins/linux-x64-cuda/fallback/", Set.of());
    private static final NpmPackage LINUX_X64_VULKAN = new NpmPackage(SCOPE + "linux-x64-vulkan",
            "sha512-bBxqU+JOcBu1nb5Qj2zcMci+JByT1E8EajHvYodyNfVIPkEhXh+/HMwR1/BT7xP08YK0hks+kM8fglER0P8JEg==",
            24_311_427, "package/bins/linux-x64-vulkan/", Set.of());

    private final String id;
    private final String description;
    private final String libraryFile;

    Variant(String id, String description, String libraryFile) {
        this.id = id;
        this.description = description;
        this.libraryFile = libraryFile;
    }

    /** The name on the command line: {@code cpu}, {@code cuda}, {@code cuda12}, {@code vulkan}. */
    public String id() {
        return id;
    }

    /** What it runs on and how large the download is. */
    public String description() {
        return description;
    }

    /** The file name of the llama.cpp library this variant installs, e.g. {@code libllama.v0.5.0.so}. */
    public String libraryFile() {
        return libraryFile;
    }

    /** The variant named {@code id} (case-insensitive); the message lists the valid names. */
    public static Variant parse(String id) {
        for (Variant v : values()) {
            if (v.id.equalsIgnoreCase(id.strip())) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown natives variant '" + id + "'; expected one of "
                + Arrays.stream(values()).map(Variant::id).collect(Collectors.joining(", ")));
    }

    /** The npm packages of this variant for the running platform. */
    List<NpmPackage> packages() {
        return packages(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** The npm packages of this variant for a platform as Java names it ({@code os.name}, {@code os.arch}). */
    List<NpmPackage> packages(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> "x64";
            case "aarch64", "arm64" -> "arm64";
            default -> osArch;
        };
        boolean linux = os.startsWith("linux");
        if (linux && arch.equals("x64")) {
            return switch (this) {
                case CPU -> List.of(LINUX_X64);
                case CUDA -> List.of(LINUX_X64_CUDA);
                case CUDA12 -> List.of(LINUX_X64_CUDA_BASE, LINUX_X64_CUDA_EXT);
                case VULKAN -> List.of(LINUX_X64_VULKAN);
            };
        }
        if (linux && arch.equals("arm64") && this == CPU) {
            return List.of(LINUX_ARM64);
        }
        throw new NativesException("there are no prebuilt " + id + " natives for " + osName + " " + osArch
                + ": blender installs cpu for Linux x86_64 and aarch64, and cuda, cuda12 and vulkan for Linux x86_64"
                + " only. Elsewhere build llama.cpp yourself and set BLENDER_LLAMA_LIBRARY (or -Dblender.llama.library)"
                + " to the folder holding its libllama.");
    }
}
