package dev.blender.nativebridge.natives;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Small tar.gz archives written in the test and a fake npm that serves one; shared with the CLI tests. */
public final class NativesFixtures {
    private NativesFixtures() {}

    /** One tar entry: type '0' is a file, '2' a symlink to {@code link}, '1' a hard link, '5' a folder. */
    public record Entry(String name, char type, byte[] data, String link) {
        public static Entry file(String name, String content) {
            return new Entry(name, '0', content.getBytes(StandardCharsets.UTF_8), "");
        }

        public static Entry symlink(String name, String target) {
            return new Entry(name, '2', new byte[0], target);
        }
    }

    /** A gzip-compressed ustar archive of {@code entries}; names over 100 bytes get a pax header. */
    public static byte[] tarGz(List<Entry> entries) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            for (Entry e : entries) {
                String name = e.name();
                if (name.getBytes(StandardCharsets.UTF_8).length > 100) {
                    byte[] pax = paxRecord("path", name);
                    gz.write(header("PaxHeader/long", 'x', pax.length, ""));
                    gz.write(pad(pax));
                    name = name.substring(name.length() - 90);
                }
                gz.write(header(name, e.type(), e.data().length, e.link()));
                gz.write(pad(e.data()));
            }
            gz.write(new byte[1024]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static byte[] paxRecord(String key, String value) {
        String body = " " + key + "=" + value + "\n";
        int length = body.getBytes(StandardCharsets.UTF_8).length;
        int total = length + Integer.toString(length).length();
        if (Integer.toString(total).length() != Integer.toString(length).length()) {
            total++;
        }
        return (total + body).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] header(String name, char type, long size, String link) {
        byte[] h = new byte[512];
        put(h, 0, name);
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", size));
        put(h, 136, "14000000000");
        h[156] = (byte) type;
        put(h, 157, link);
        put(h, 257, "ustar");
        put(h, 263, "00");
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o", sum));
        h[155] = ' ';
        return h;
    }

    private static void put(byte[] h, int offset, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, offset, b.length);
    }

    private static byte[] pad(byte[] data) {
        byte[] out = new byte[(data.length + 511) / 512 * 512];
        System.arraycopy(data, 0, out, 0, data.length);
        return out;
    }

    /**
     * Writes an executable fake npm into {@code dir}: {@code view} prints {@code integrity}, {@code pack} copies
     * {@code tarball} into the working folder, for any package; every call is appended to {@code dir/npm.log}.
     */
    public static Path fakeNpm(Path dir, String integrity, Path tarball) throws IOException {
        return fakeNpm(dir, Map.of("*", new Served(integrity, tarball)));
    }

    /** What the fake npm reports and serves for one package spec ({@code name@version}, or {@code *} for any). */
    public record Served(String integrity, Path tarball) {}

    /** A fake npm serving each spec its own tarball; an unknown spec fails like a 404. */
    public static Path fakeNpm(Path dir, Map<String, Served> served) throws IOException {
        StringBuilder cases = new StringBuilder();
        for (Map.Entry<String, Served> e : served.entrySet()) {
            // a shell case pattern: "view @scope/name@1.0" literally, or "view "* for any package
            String spec = e.getKey().equals("*") ? "\"*" : e.getKey() + "\"";
            cases.append("  \"view ").append(spec).append(") echo '").append(e.getValue().integrity()).append("' ;;\n");
            cases.append("  \"pack ").append(spec).append(") cp '").append(e.getValue().tarball())
                    .append("' ./served-$$.tgz && echo served-$$.tgz ;;\n");
        }
        Path script = dir.resolve("fake-npm");
        Files.writeString(script, """
                #!/bin/sh
                echo "$*" >> '%s'
                case "$1 $2" in
                %s  *) echo "npm error 404 fake npm: unexpected $*" >&2; exit 1 ;;
                esac
                """.formatted(dir.resolve("npm.log"), cases));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    /** The lines of the fake npm's log: one per call. */
    public static List<String> npmCalls(Path dir) throws IOException {
        Path log = dir.resolve("npm.log");
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }
}
