package dev.blender.nativebridge.natives;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.natives.NativesFixtures.Entry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JDK-only tar reader: what it keeps, what it skips and what it refuses. */
class TarGzTest {
    private static final NpmPackage PKG = new NpmPackage("@node-llama-cpp/linux-x64", "sha512-x", 1,
            "package/bins/linux-x64/", Set.of());

    private static List<String> extract(byte[] archive, Path dest) throws IOException {
        return TarGz.extract(new ByteArrayInputStream(archive), dest, PKG::select);
    }

    @Test
    void keepsOnlyTheLibrariesAndMetadataOfTheBinsFolder(@TempDir Path dir) throws IOException {
        String longName = "libggml-cpu-" + "x".repeat(120) + ".so";
        byte[] archive = NativesFixtures.tarGz(List.of(
                Entry.file("package/package.json", "{}"),
                Entry.file("package/README.md", "readme"),
                Entry.file("package/bins/linux-x64/_nlcBuildMetadata.json", "{\"gpu\":false}"),
                Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "llama"),
                Entry.file("package/bins/linux-x64/libggml-base.so", "base"),
                Entry.file("package/bins/linux-x64/llama-addon.node", "node addon"),
                Entry.file("package/bins/linux-x64/libllama-common.so", "common"),
                Entry.file("package/bins/linux-x64/notes.txt", "not a library"),
                Entry.file("package/bins/linux-x64/nested/libnested.so", "nested"),
                Entry.file("package/bins/linux-x64-cuda/libggml-cuda.so", "other platform"),
                Entry.file("package/bins/linux-x64/" + longName, "long name via pax"),
                Entry.symlink("package/bins/linux-x64/libggml.so", "libggml-base.so"),
                new Entry("package/bins/linux-x64/libggml-copy.so", '1', new byte[0], "package/bins/linux-x64/libggml-base.so")));
        List<String> written = extract(archive, dir);

        assertEquals(List.of("_nlcBuildMetadata.json", "libllama.v0.5.0.so", "libggml-base.so", longName, "libggml.so",
                "libggml-copy.so"), written);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(Set.copyOf(written), Set.copyOf(files.map(p -> p.getFileName().toString()).toList()),
                    "nothing else was written");
        }
        assertEquals("llama", Files.readString(dir.resolve("libllama.v0.5.0.so")));
        assertEquals("long name via pax", Files.readString(dir.resolve(longName)));
        assertTrue(Files.isSymbolicLink(dir.resolve("libggml.so")), "symlinks are preserved");
        assertEquals(Path.of("libggml-base.so"), Files.readSymbolicLink(dir.resolve("libggml.so")));
        assertEquals("base", Files.readString(dir.resolve("libggml.so")));
        assertEquals("base", Files.readString(dir.resolve("libggml-copy.so")));
    }

    @Test
    void aTraversalEntryRefusesTheWholeArchive(@TempDir Path root) throws IOException {
        Path dest = Files.createDirectory(root.resolve("dest"));
        for (String evil : new String[] {"package/bins/linux-x64/../../../../evil.so", "../evil.so", "/tmp/evil.so",
            "package/bins/linux-x64/..\\..\\evil.so"}) {
            byte[] archive = NativesFixtures.tarGz(List.of(
                    Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "llama"),
                    Entry.file(evil, "escaped")));
            NativesException e = assertThrows(NativesException.class, () -> extract(archive, dest), evil);
            assertTrue(e.getMessage().contains(evil), e.getMessage());
        }
        try (Stream<Path> all = Files.walk(root)) {
            assertEquals(List.of(), all.filter(p -> p.getFileName().toString().contains("evil")).toList(),
                    "nothing escaped, nothing odd written");
        }
    }

    @Test
    void aSymlinkLeavingTheFolderIsRefused(@TempDir Path dir) {
        for (String target : new String[] {"../../etc/passwd", "/etc/passwd", "sub/lib.so", ".."}) {
            byte[] archive = NativesFixtures.tarGz(List.of(Entry.symlink("package/bins/linux-x64/libx.so", target)));
            NativesException e = assertThrows(NativesException.class, () -> extract(archive, dir), target);
            assertTrue(e.getMessage().contains("symlink"), e.getMessage());
        }
    }

    @Test
    void corruptOrTruncatedArchivesAreRefused(@TempDir Path dir) {
        byte[] good = NativesFixtures.tarGz(List.of(Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "llama")));
        byte[] raw = gunzip(good);
        raw[0] ^= 1; // the name changes, the stored checksum no longer fits
        NativesException checksum = assertThrows(NativesException.class, () -> extract(gzip(raw), dir));
        assertTrue(checksum.getMessage().contains("checksum"), checksum.getMessage());

        byte[] cut = java.util.Arrays.copyOf(gunzip(good), 512 + 100);
        NativesException truncated = assertThrows(NativesException.class, () -> extract(gzip(cut), dir));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
    }

    private static byte[] gunzip(byte[] gz) {
        try (var in = new java.util.zip.GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] gzip(byte[] raw) {
        var out = new java.io.ByteArrayOutputStream();
        try (var gz = new java.util.zip.GZIPOutputStream(out)) {
            gz.write(raw);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
