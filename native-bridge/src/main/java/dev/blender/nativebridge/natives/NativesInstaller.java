package dev.blender.nativebridge.natives;

import dev.blender.nativebridge.CacheDir;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Installs a prebuilt llama.cpp (v0.5.0, as node-llama-cpp {@value #VERSION} ships it on npm) into a folder,
 * without a compiler:
 * <ol>
 *   <li>{@code npm view <package>@3.22.1 dist.integrity} must equal the integrity pinned in this class;</li>
 *   <li>{@code npm pack <package>@3.22.1} downloads the tarball, whose SHA-512 (computed here) must equal it too;</li>
 *   <li>only the shared libraries under {@code package/bins/<platform>/} are unpacked (in Java; entries that
 *       would escape the folder make the archive refused), into a temporary sibling folder that is then
 *       renamed into place, so concurrent installs never see a partial folder.</li>
 * </ol>
 * An install that is already complete is reused without running npm. The folder defaults to
 * {@code <cache>/natives/<variant>-3.22.1} under {@link CacheDir#root()}.
 */
public final class NativesInstaller {
    /** The node-llama-cpp release whose packages are installed. */
    public static final String VERSION = "3.22.1";
    /** The system property naming the npm executable (default {@code npm} on the PATH). */
    public static final String NPM_PROPERTY = "blender.npm";
    /** Written last into a finished install: what it holds, so a later install can trust and reuse it. */
    static final String MARKER = ".blender-natives.properties";

    /** Hears what an install is doing, for a progress display. */
    public interface Listener {
        /** A step starts; {@code what} is one line, e.g. "downloading @node-llama-cpp/linux-x64@3.22.1 (10.8 MB) with npm". */
        void step(String what);

        /**
         * Progress within the current step: {@code done} of {@code total} bytes, or {@code done < 0} while npm
         * is working and only time passes (called about five times a second).
         */
        default void progress(long done, long total) {}

        /** Hears nothing. */
        Listener NONE = what -> {};
    }

    private final String npm;
    private final Listener listener;
    private final Function<Variant, List<NpmPackage>> catalog;

    /** npm from {@code -Dblender.npm} or the PATH; no progress. */
    public NativesInstaller() {
        this(null, Listener.NONE);
    }

    /**
     * @param npm      the npm executable, or null for {@code -Dblender.npm}, else {@code npm} on the PATH
     * @param listener hears the steps and progress
     */
    public NativesInstaller(String npm, Listener listener) {
        this(npm, listener, Variant::packages);
    }

    /** For tests: packages (and so pinned integrities) other than the real ones. */
    NativesInstaller(String npm, Listener listener, Function<Variant, List<NpmPackage>> catalog) {
        String configured = npm != null && !npm.isBlank() ? npm : System.getProperty(NPM_PROPERTY);
        this.npm = configured != null && !configured.isBlank() ? configured : "npm";
        this.listener = listener == null ? Listener.NONE : listener;
        this.catalog = catalog;
    }

    /** Where {@code variant} is installed when no folder is given: {@code <cache>/natives/<variant>-3.22.1}. */
    public static Path defaultDir(Variant variant) {
        return CacheDir.root().resolve("natives").resolve(variant.id() + "-" + VERSION);
    }

    /** Installs {@code variant} into {@link #defaultDir(Variant)}. */
    public Installation install(Variant variant) {
        return install(variant, defaultDir(variant));
    }

    /**
     * Installs {@code variant} into {@code dir}, or reuses a complete install already there. {@code dir} may be
     * absent or empty; a folder holding anything else is refused rather than overwritten.
     *
     * @throws NativesException when npm is missing (the message lists the manual steps), fails, or serves a
     *                          tarball whose integrity differs from the pin, or the platform has no prebuilt build
     */
    public Installation install(Variant variant, Path dir) {
        List<NpmPackage> packages = catalog.apply(variant);
        Path dest = dir.toAbsolutePath().normalize();
        Optional<Installation> existing = complete(variant, dest, packages);
        if (existing.isPresent()) {
            return existing.get();
        }
        refuseForeign(dest);
        Path parent = dest.getParent();
        Path staging;
        try {
            Files.createDirectories(parent);
            staging = Files.createTempDirectory(parent, "." + dest.getFileName() + ".partial-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + parent + " to install natives into (choose a writable"
                    + " folder, or move the cache with -D" + CacheDir.PROPERTY + ")", e);
        }
        try {
            Path files = Files.createDirectory(staging.resolve("files"));
            List<String> written = new ArrayList<>();
            for (NpmPackage p : packages) {
                Path tarball = fetch(variant, p, Files.createDirectory(staging.resolve("npm-" + written.size())), dest);
                listener.step("unpacking the libraries of " + p.spec());
                List<String> names;
                long size = Files.size(tarball);
                try (InputStream in = new Counting(Files.newInputStream(tarball), size)) {
                    names = TarGz.extract(in, files, p::select);
                }
                if (names.isEmpty()) {
                    throw new NativesException(p.spec() + " has no libraries under " + p.binsDir()
                            + ": its layout is not the one blender expects");
                }
                written.removeAll(names);
                written.addAll(names);
                Files.delete(tarball);
            }
            if (!Files.isRegularFile(files.resolve(variant.libraryFile()))) {
                throw new NativesException("the " + variant.id() + " packages hold no " + variant.libraryFile()
                        + " (found " + written + ")");
            }
            writeMarker(variant, packages, files, written);
            return publish(variant, packages, files, dest);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot install the " + variant.id() + " natives into " + dest + ": " + e, e);
        } finally {
            deleteRecursively(staging);
        }
    }

    /** The install of {@code variant} in {@code dir}, if one is there and complete. */
    public static Optional<Installation> installed(Variant variant, Path dir) {
        return complete(variant, dir.toAbsolutePath().normalize(), variant.packages());
    }

    /**
     * How to install {@code variant} into {@code dir} by hand, for a machine without npm: download, verify,
     * unpack, point blender at it. Throws for a platform without prebuilt natives.
     */
    public static String manualSteps(Variant variant, Path dir) {
        return manualSteps(variant, variant.packages(), dir);
    }

    private static String manualSteps(Variant variant, List<NpmPackage> packages, Path dir) {
        StringBuilder s = new StringBuilder();
        s.append("To install the ").append(variant.id()).append(" natives by hand:\n");
        int step = 1;
        for (NpmPackage p : packages) {
            String file = p.tarballName();
            s.append("  ").append(step++).append(". download ").append(p.spec()).append(":\n")
                    .append("       curl -fL -o ").append(file).append(' ').append(p.tarballUrl()).append('\n')
                    .append("     (or: npm pack ").append(p.spec()).append(")\n");
            s.append("  ").append(step++).append(". check it: this must print ").append(p.integrity()).append('\n')
                    .append("       echo sha512-$(openssl dgst -sha512 -binary ").append(file).append(" | base64 -w0)\n");
            String dirName = p.binsDir().substring(0, p.binsDir().length() - 1);
            s.append("  ").append(step++).append(". unpack its libraries:\n")
                    .append("       mkdir -p ").append(dir).append(" && tar -xzf ").append(file).append(" -C ").append(dir)
                    .append(" --strip-components=").append(dirName.split("/").length).append(' ').append(dirName)
                    .append('\n');
        }
        s.append("  ").append(step).append(". export BLENDER_LLAMA_LIBRARY=").append(dir)
                .append("   (or java -Dblender.llama.library=").append(dir).append(")");
        return s.toString();
    }

    // ---- npm

    /** Checks the registry's integrity against the pin, then downloads the tarball and checks its hash. */
    private Path fetch(Variant variant, NpmPackage p, Path workDir, Path dest) throws IOException {
        listener.step(String.format(Locale.ROOT, "downloading %s (%.1f MB) with npm", p.spec(), p.size() / 1e6));
        String registry = lastLine(npm(variant, p, dest, workDir, "view", p.spec(), "dist.integrity"));
        if (!registry.equals(p.integrity())) {
            throw new NativesException("the npm registry reports integrity " + (registry.isEmpty() ? "(none)" : registry)
                    + " for " + p.spec() + ", but blender pins " + p.integrity()
                    + "; refusing to install a package that differs from the one blender was built against");
        }
        npm(variant, p, dest, workDir, "pack", p.spec());
        List<Path> tarballs;
        try (Stream<Path> list = Files.list(workDir)) {
            tarballs = list.filter(f -> f.getFileName().toString().endsWith(".tgz")).toList();
        }
        if (tarballs.size() != 1) {
            throw new NativesException("npm pack " + p.spec() + " left " + tarballs.size() + " .tgz files in "
                    + workDir + ", expected one");
        }
        Path tarball = tarballs.get(0);
        String actual = sha512(tarball);
        if (!actual.equals(p.integrity())) {
            throw new NativesException("the tarball npm downloaded for " + p.spec() + " has integrity " + actual
                    + ", but it must be " + p.integrity() + "; refusing it (corrupt download or tampered package)");
        }
        return tarball;
    }

    /** Runs npm in {@code workDir}, returning its stdout; a missing npm gives the manual steps. */
    private String npm(Variant variant, NpmPackage p, Path dest, Path workDir, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(npm);
        command.addAll(List.of(args));
        Path out = workDir.resolve(".npm-stdout");
        Path err = workDir.resolve(".npm-stderr");
        Process process;
        try {
            process = new ProcessBuilder(command).directory(workDir.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        } catch (IOException e) {
            throw new NativesException("cannot run npm ('" + npm + "': " + e.getMessage() + "). Install Node.js"
                    + " (which brings npm) or name an npm with -D" + NPM_PROPERTY + "=PATH; or\n"
                    + manualSteps(variant, catalog.apply(variant), dest), e);
        }
        try {
            while (!process.waitFor(200, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                listener.progress(-1, p.size());
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new NativesException("interrupted while npm " + args[0] + " " + p.spec() + " was running", e);
        }
        try {
            if (process.exitValue() != 0) {
                throw new NativesException("npm " + String.join(" ", args) + " failed (exit " + process.exitValue()
                        + "):\n" + tail(Files.readString(err, StandardCharsets.UTF_8)) + "\nWithout network access to the"
                        + " npm registry, download the tarball elsewhere: " + p.tarballUrl());
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String lastLine(String output) {
        List<String> lines = output.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        return last.replace("'", "").replace("\"", "");
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        return lines.subList(Math.max(0, lines.size() - 15), lines.size()).stream()
                .map(l -> "  " + l).collect(Collectors.joining("\n"));
    }

    /** The Subresource Integrity string of a file: {@code sha512-<base64 of its SHA-512>}. */
    static String sha512(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-512 is required of every JVM", e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return "sha512-" + Base64.getEncoder().encodeToString(digest.digest());
    }

    // ---- the install folder

    private static void writeMarker(Variant variant, List<NpmPackage> packages, Path files, List<String> written)
            throws IOException {
        Properties marker = new Properties();
        marker.setProperty("variant", variant.id());
        marker.setProperty("version", VERSION);
        marker.setProperty("packages", packagesKey(packages));
        marker.setProperty("library", variant.libraryFile());
        for (String f : written) {
            marker.setProperty("file." + f, Long.toString(Files.size(files.resolve(f))));
        }
        try (OutputStream out = Files.newOutputStream(files.resolve(MARKER))) {
            marker.store(out, "written by blender natives install; the folder is complete");
        }
    }

    private static String packagesKey(List<NpmPackage> packages) {
        return packages.stream().map(p -> p.spec() + " " + p.integrity()).collect(Collectors.joining(", "));
    }

    /** The install in {@code dest} if its marker names this variant and packages and every file is there whole. */
    private static Optional<Installation> complete(Variant variant, Path dest, List<NpmPackage> packages) {
        Path markerFile = dest.resolve(MARKER);
        if (!Files.isRegularFile(markerFile)) {
            return Optional.empty();
        }
        Properties marker = new Properties();
        try (InputStream in = Files.newInputStream(markerFile)) {
            marker.load(in);
            if (!variant.id().equals(marker.getProperty("variant")) || !VERSION.equals(marker.getProperty("version"))
                    || !packagesKey(packages).equals(marker.getProperty("packages"))) {
                return Optional.empty();
            }
            for (String key : marker.stringPropertyNames()) {
                if (key.startsWith("file.")) {
                    Path f = dest.resolve(key.substring("file.".length()));
                    if (!Files.exists(f) || Files.size(f) != Long.parseLong(marker.getProperty(key))) {
                        return Optional.empty();
                    }
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
        Path library = dest.resolve(variant.libraryFile());
        return Files.isRegularFile(library) ? Optional.of(new Installation(variant, dest, library, true)) : Optional.empty();
    }

    /** Refuses a folder that holds files but is no natives install: it is somebody else's, never overwritten. */
    private static void refuseForeign(Path dest) {
        if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS) && !Files.exists(dest.resolve(MARKER)) && !isEmptyDir(dest)) {
            throw new NativesException(dest + " already exists and is not an install of blender natives; name an"
                    + " empty or new folder with --dir (nothing there was changed)");
        }
    }

    private static boolean isEmptyDir(Path dir) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            return !entries.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Renames the finished folder to {@code dest}. If another install finished first, its folder is used; an
     * empty folder or an older, incomplete install of ours in the way is replaced.
     */
    private static Installation publish(Variant variant, List<NpmPackage> packages, Path files, Path dest)
            throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                Files.move(files, dest, StandardCopyOption.ATOMIC_MOVE);
                return new Installation(variant, dest, dest.resolve(variant.libraryFile()), false);
            } catch (AtomicMoveNotSupportedException e) {
                throw new NativesException("cannot rename " + files + " to " + dest + " atomically: " + e.getMessage(), e);
            } catch (IOException e) {
                if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS) || attempt >= 5) {
                    throw e;
                }
                Optional<Installation> other = complete(variant, dest, packages);
                if (other.isPresent()) {
                    return other.get(); // a concurrent install finished first; ours is discarded
                }
                refuseForeign(dest);
                if (isEmptyDir(dest)) {
                    Files.deleteIfExists(dest); // a rename onto an empty folder may fail on some file systems
                } else {
                    // an incomplete or different install of ours: move it aside, then delete it
                    Path old = Files.createTempDirectory(dest.getParent(), "." + dest.getFileName() + ".old-");
                    try {
                        Files.move(dest, old.resolve("previous"), StandardCopyOption.ATOMIC_MOVE);
                    } catch (NoSuchFileException gone) {
                        // someone else moved it already
                    } finally {
                        deleteRecursively(old);
                    }
                }
            }
        }
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a leftover temporary folder is harmless; it never has the final name
        }
    }

    /** Reports how much of a tarball has been read, as unpacking progress. */
    private final class Counting extends FilterInputStream {
        private final long total;
        private long done;
        private long lastReport;

        Counting(InputStream in, long total) {
            super(in);
            this.total = total;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            count(b < 0 ? 0 : 1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            count(Math.max(n, 0));
            return n;
        }

        private void count(int n) {
            done += n;
            if (done - lastReport >= (1 << 20) || done == total) {
                lastReport = done;
                listener.progress(done, total);
            }
        }
    }
}
