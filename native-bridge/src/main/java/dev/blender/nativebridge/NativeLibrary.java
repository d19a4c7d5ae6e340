package dev.blender.nativebridge;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Finds the native llama.cpp library and loads exactly one copy of it per process.
 *
 * <p>Resolution order:
 * <ol>
 *   <li>the system property {@value #PATH_PROPERTY}, then the environment variable {@value #PATH_ENV}:
 *       an explicit path to a library exporting the llama.cpp C API of the supported ABI (b4916);</li>
 *   <li>otherwise the {@code libjllama} that ships inside the {@code de.kherud:llama} jar, extracted once
 *       into a per-user cache directory ({@value #CACHE_PROPERTY}, else {@code $XDG_CACHE_HOME/blender},
 *       else {@code ~/.cache/blender}) under a folder named by the library's SHA-256. Extraction writes
 *       a temporary file and renames it atomically, so two JVMs starting at once never see a partial
 *       file.</li>
 * </ol>
 */
final class NativeLibrary {
    static final String PATH_PROPERTY = "blender.llama.library";
    static final String PATH_ENV = "BLENDER_LLAMA_LIBRARY";
    static final String CACHE_PROPERTY = "blender.cache.dir";

    private NativeLibrary() {}

    /** The loaded library: where it came from and how to find its symbols. */
    record Loaded(Path path, SymbolLookup lookup) {}

    private static final class Holder {
        static final Loaded LOADED = load();
    }

    static Loaded get() {
        return Holder.LOADED;
    }

    private static Loaded load() {
        Path path = locate();
        // The global arena: a native library must never be unloaded while code may still call into it.
        SymbolLookup lookup = SymbolLookup.libraryLookup(path, Arena.global());
        return new Loaded(path, lookup);
    }

    static Path locate() {
        String explicit = System.getProperty(PATH_PROPERTY);
        String origin = "system property " + PATH_PROPERTY;
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv(PATH_ENV);
            origin = "environment variable " + PATH_ENV;
        }
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit).toAbsolutePath();
            if (!Files.isRegularFile(p)) {
                throw new LlamaException("llama.cpp library named by " + origin + " does not exist or is not a file: " + p);
            }
            return p;
        }
        return extractBundled();
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
                    + "'; set -D" + PATH_PROPERTY + " to a libllama built at b4916");
        }
        String archDir = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            case "x86", "i386", "i686" -> "x86";
            default -> throw new LlamaException("no bundled llama.cpp library for architecture '" + arch
                    + "'; set -D" + PATH_PROPERTY + " to a libllama built at b4916");
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
        String configured = System.getProperty(CACHE_PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "blender");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "blender");
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JVM", e);
        }
    }
}
