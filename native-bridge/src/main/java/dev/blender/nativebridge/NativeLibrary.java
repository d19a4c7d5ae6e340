package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Finds the native llama.cpp library, loads exactly one copy of it per process and tells which
 * {@link LlamaAbi} it speaks.
 *
 * <p>Resolution order:
 * <ol>
 *   <li>the system property {@value #PATH_PROPERTY}, then the environment variable {@value #PATH_ENV}:
 *       either a library file exporting the llama.cpp C API, or a directory holding
 *       {@code libggml-base}, {@code libggml} and {@code libllama} (and backend plugins such as
 *       {@code libggml-cpu-*}, {@code libggml-cuda}), as {@code blender natives install} leaves it;</li>
 *   <li>otherwise the {@code libjllama} that ships inside the {@code de.kherud:llama} jar, extracted once
 *       into a per-user cache directory ({@value #CACHE_PROPERTY}, else {@code $XDG_CACHE_HOME/blender},
 *       else {@code ~/.cache/blender}) under a folder named by the library's SHA-256. Extraction writes
 *       a temporary file and renames it atomically, so two JVMs starting at once never see a partial
 *       file.</li>
 * </ol>
 * A library of any version but the supported ones is refused with a message naming them: its struct
 * layouts are unknown, and a wrong layout corrupts memory instead of failing.
 */
final class NativeLibrary {
    static final String PATH_PROPERTY = "blender.llama.library";
    static final String PATH_ENV = "BLENDER_LLAMA_LIBRARY";
    static final String CACHE_PROPERTY = CacheDir.PROPERTY;

    private NativeLibrary() {}

    /**
     * The loaded library: the libllama file, the directory whose backend plugins belong to it, how to
     * find its symbols (and ggml's), its ABI and the version it reports.
     */
    record Loaded(Path path, Path directory, SymbolLookup lookup, LlamaAbi abi, String version) {}

    /** Where the library in use was named: a system property, an environment variable, or nowhere (bundled). */
    static String origin() {
        String property = System.getProperty(PATH_PROPERTY);
        if (property != null && !property.isBlank()) {
            return "system property " + PATH_PROPERTY;
        }
        String env = System.getenv(PATH_ENV);
        if (env != null && !env.isBlank()) {
            return "environment variable " + PATH_ENV;
        }
        return "bundled in de.kherud:llama:4.2.0";
    }

    private static final class Holder {
        /** The loaded library, or the exception that explains why there is none (thrown at every use). */
        static final Object RESULT = tryLoad();
    }

    static Loaded get() {
        Object r = Holder.RESULT;
        if (r instanceof Loaded loaded) {
            return loaded;
        }
        RuntimeException e = (RuntimeException) r;
        throw e instanceof LlamaException ? new LlamaException(e.getMessage(), e)
                : new LlamaException("the llama.cpp library could not be loaded: " + e.getMessage(), e);
    }

    private static Object tryLoad() {
        try {
            return load();
        } catch (RuntimeException e) {
            return e;
        }
    }

    private static Loaded load() {
        Path path = locate();
        Path dir = path.getParent();
        // The global arena: a native library must never be unloaded while code may still call into it.
        // ggml-base and ggml first, by absolute path, so that a split build never picks up another
        // copy of them from the system's search path.
        SymbolLookup lookup = null;
        for (Path dep : ggmlLibraries(dir)) {
            SymbolLookup l = SymbolLookup.libraryLookup(dep, Arena.global());
            lookup = lookup == null ? l : lookup.or(l);
        }
        SymbolLookup llama = SymbolLookup.libraryLookup(path, Arena.global());
        lookup = lookup == null ? llama : llama.or(lookup);
        return identify(path, dir, lookup);
    }

    /** Decides the ABI from what the library exports, and refuses versions whose layouts are unknown. */
    static Loaded identify(Path path, Path dir, SymbolLookup lookup) {
        if (lookup.find("llama_get_memory").isPresent()) {
            String version = lookup.find("llama_version").map(NativeLibrary::callVersion).orElse("unknown");
            if (version.startsWith("0.5.0")) {
                return new Loaded(path, dir, lookup, LlamaAbi.V0_5_0, version);
            }
            throw new LlamaException("the llama.cpp library at " + path + " is version " + version
                    + ", whose struct layouts this build of blender does not know; use " + LlamaAbi.supportedVersions());
        }
        var build = lookup.find("LLAMA_BUILD_NUMBER");
        if (build.isPresent()) {
            int number = build.get().reinterpret(Integer.BYTES).get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            if (number == 4916) {
                return new Loaded(path, dir, lookup, LlamaAbi.B4916, "b4916");
            }
            throw new LlamaException("the llama.cpp library at " + path + " is build b" + number
                    + ", whose struct layouts this build of blender does not know; use " + LlamaAbi.supportedVersions());
        }
        if (lookup.find("llama_decode").isPresent()) {
            throw new LlamaException("the llama.cpp library at " + path + " reports no version (neither llama_version"
                    + " nor LLAMA_BUILD_NUMBER), so its struct layouts are unknown; use " + LlamaAbi.supportedVersions());
        }
        throw new LlamaException(path + " is not a llama.cpp library (it does not export llama_decode); use "
                + LlamaAbi.supportedVersions());
    }

    private static String callVersion(MemorySegment symbol) {
        try {
            MethodHandle h = Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(ADDRESS));
            return ((MemorySegment) h.invokeExact()).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new LlamaException("llama_version() failed", t);
        }
    }

    static Path locate() {
        String origin = origin();
        String explicit = origin.startsWith("system") ? System.getProperty(PATH_PROPERTY)
                : origin.startsWith("environment") ? System.getenv(PATH_ENV) : null;
        if (explicit != null) {
            Path p = Path.of(explicit).toAbsolutePath();
            if (Files.isDirectory(p)) {
                return llamaLibraryIn(p, origin);
            }
            if (!Files.isRegularFile(p)) {
                throw new LlamaException("llama.cpp library named by " + origin
                        + " does not exist or is neither a file nor a directory: " + p);
            }
            return p;
        }
        return extractBundled();
    }

    /** The one libllama (or libjllama) of a directory. */
    static Path llamaLibraryIn(Path dir, String origin) {
        List<Path> found = new ArrayList<>();
        for (String prefix : List.of("libllama", "llama", "libjllama", "jllama")) {
            found.addAll(librariesIn(dir, prefix).stream()
                    .filter(p -> !p.getFileName().toString().startsWith(prefix + "-")) // libllama-common
                    .toList());
            if (!found.isEmpty()) {
                break;
            }
        }
        if (found.size() != 1) {
            throw new LlamaException("the directory " + dir + " named by " + origin + (found.isEmpty()
                    ? " holds no libllama library; point it at the folder `blender natives install` printed"
                    : " holds several llama libraries " + found.stream().map(p -> p.getFileName().toString()).sorted().toList()
                            + "; name the file to use instead of the directory"));
        }
        return found.getFirst();
    }

    /** ggml-base then ggml of a split build (none for a build that links ggml statically). */
    private static List<Path> ggmlLibraries(Path dir) {
        List<Path> out = new ArrayList<>();
        librariesIn(dir, "libggml-base").stream().findFirst().ifPresent(out::add);
        librariesIn(dir, "libggml").stream()
                .filter(p -> !p.getFileName().toString().startsWith("libggml-")) // not ggml-base nor the plugins
                .findFirst().ifPresent(out::add);
        return out;
    }

    private static List<Path> librariesIn(Path dir, String prefix) {
        if (dir == null) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString();
                        return n.startsWith(prefix) && (n.endsWith(".so") || n.contains(".so.") || n.endsWith(".dylib")
                                || n.endsWith(".dll"));
                    })
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    private static String resourceName() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osDir;
        String file;
        if (os.contains("linux")) {
            osDir = System.getProperty("java.vm.vendor", "").toLowerCase(Locale.ROOT).contains("android")
                    ? "Linux-Android" : "Linux";
            file = "libjllama.so";
        } else if (os.contains("mac") || os.contains("darwin")) {
            osDir = "Mac";
            file = "libjllama.dylib";
        } else if (os.contains("windows")) {
            osDir = "Windows";
            file = "jllama.dll";
        } else {
            throw new LlamaException("no bundled llama.cpp library for operating system '" + os
                    + "'; set -D" + PATH_PROPERTY + " to " + LlamaAbi.supportedVersions());
        }
        String archDir = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            case "x86", "i386", "i686" -> "x86";
            default -> throw new LlamaException("no bundled llama.cpp library for architecture '" + arch
                    + "'; set -D" + PATH_PROPERTY + " to " + LlamaAbi.supportedVersions());
        };
        return "de/kherud/llama/" + osDir + "/" + archDir + "/" + file;
    }

    private static Path extractBundled() {
        String resource = resourceName();
        byte[] bytes;
        try (InputStream in = NativeLibrary.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new LlamaException("the llama.cpp library " + resource + " is not on the class path; add "
                        + "de.kherud:llama:4.2.0 as a dependency or set -D" + PATH_PROPERTY);
            }
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource + " from the class path", e);
        }
        String hash = sha256(bytes).substring(0, 16);
        Path dir = cacheDir().resolve("native").resolve(hash);
        Path target = dir.resolve(resource.substring(resource.lastIndexOf('/') + 1));
        try {
            if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
                return target;
            }
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "extract-", ".tmp");
            try {
                Files.write(tmp, bytes);
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the llama.cpp library to " + dir
                    + " (set -D" + CACHE_PROPERTY + " to a writable directory)", e);
        }
    }

    static Path cacheDir() {
        return CacheDir.root();
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JVM", e);
        }
    }
}
