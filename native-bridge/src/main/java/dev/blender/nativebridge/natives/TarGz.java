package dev.blender.nativebridge.natives;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.zip.GZIPInputStream;

/**
 * A small reader for gzip-compressed tar archives (ustar, with pax and GNU long names), extracting a chosen
 * subset of entries flat into one folder. Any entry whose name is absolute or climbs with {@code ..} makes the
 * whole archive refused, whether or not it would have been extracted.
 */
final class TarGz {
    private static final int BLOCK = 512;

    private TarGz() {}

    /**
     * Extracts into {@code dest} (which must exist) every regular file, symlink or hard link whose archive name
     * {@code select} maps to a file name; {@code select} returns null for entries to skip. A later entry of the
     * same name replaces an earlier one.
     *
     * @return the file names written, in archive order
     * @throws NativesException for an unsafe or malformed archive
     */
    static List<String> extract(InputStream gzip, Path dest, UnaryOperator<String> select) throws IOException {
        InputStream in = new GZIPInputStream(gzip, 1 << 16);
        byte[] header = new byte[BLOCK];
        List<String> written = new ArrayList<>();
        Map<String, String> extractedAs = new HashMap<>(); // archive name -> file name, for hard links
        String longName = null;
        String longLink = null;
        Map<String, String> pax = Map.of();
        while (true) {
            if (!readBlock(in, header)) {
                throw new NativesException("truncated tar archive: it ends without the closing zero blocks");
            }
            if (isZero(header)) {
                return written; // end of archive (a second zero block may follow; nothing after matters)
            }
            verifyChecksum(header);
            char type = (char) header[156];
            long size = number(header, 124, 12);
            String name = string(header, 0, 100);
            String link = string(header, 157, 100);
            if (isUstar(header)) {
                String prefix = string(header, 345, 155);
                if (!prefix.isEmpty()) {
                    name = prefix + "/" + name;
                }
            }
            switch (type) {
                case 'x' -> { // pax header for the next entry
                    pax = parsePax(readData(in, size));
                    continue;
                }
                case 'g' -> { // pax global header: nothing here that matters for extraction
                    skipData(in, size);
                    continue;
                }
                case 'L' -> {
                    longName = trimNul(new String(readData(in, size), StandardCharsets.UTF_8));
                    continue;
                }
                case 'K' -> {
                    longLink = trimNul(new String(readData(in, size), StandardCharsets.UTF_8));
                    continue;
                }
                default -> {}
            }
            if (longName != null) {
                name = longName;
            }
            if (longLink != null) {
                link = longLink;
            }
            name = pax.getOrDefault("path", name);
            link = pax.getOrDefault("linkpath", link);
            if (pax.containsKey("size")) {
                size = Long.parseLong(pax.get("size").strip());
            }
            longName = null;
            longLink = null;
            pax = Map.of();

            checkSafe(name);
            boolean hasData = type == '0' || type == '\0' || type == '7';
            String file = select.apply(stripDotSlash(name));
            if (file == null || !(hasData || type == '1' || type == '2')) {
                skipData(in, hasData ? size : 0);
                continue;
            }
            Path target = dest.resolve(file).normalize();
            if (!target.getParent().equals(dest.normalize()) || file.contains("/")) {
                throw new NativesException("refusing tar entry '" + name + "': it would be written outside " + dest);
            }
            Files.deleteIfExists(target);
            if (hasData) {
                try (OutputStream out = Files.newOutputStream(target)) {
                    copy(in, out, size);
                }
                skipPadding(in, size);
            } else if (type == '2') {
                // a symlink is kept only if it points at a sibling file, never out of the folder
                if (link.isEmpty() || link.contains("/") || link.equals("..") || link.equals(".")) {
                    throw new NativesException("refusing symlink '" + name + "' -> '" + link
                            + "': only links to a file in the same folder are extracted");
                }
                Files.createSymbolicLink(target, Path.of(link));
            } else {
                String original = extractedAs.get(stripDotSlash(link));
                if (original == null) {
                    throw new NativesException("refusing hard link '" + name + "' -> '" + link
                            + "': its target is not among the extracted files");
                }
                Files.copy(dest.resolve(original), target, StandardCopyOption.REPLACE_EXISTING);
            }
            extractedAs.put(stripDotSlash(name), file);
            written.remove(file);
            written.add(file);
        }
    }

    /** Refuses an absolute name or one with a {@code ..} segment (a path-traversal attempt). */
    static void checkSafe(String name) {
        String n = name.replace('\\', '/');
        if (n.startsWith("/") || (n.length() > 1 && n.charAt(1) == ':')) {
            throw new NativesException("refusing tar archive: entry '" + name + "' has an absolute path");
        }
        for (String segment : n.split("/")) {
            if (segment.equals("..")) {
                throw new NativesException("refusing tar archive: entry '" + name + "' climbs out of its folder (..)");
            }
        }
    }

    private static String stripDotSlash(String name) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        return n;
    }

    private static boolean readBlock(InputStream in, byte[] block) throws IOException {
        int n = in.readNBytes(block, 0, BLOCK);
        if (n == 0) {
            return false;
        }
        if (n < BLOCK) {
            throw new NativesException("truncated tar archive: a header block has " + n + " of 512 bytes");
        }
        return true;
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean isUstar(byte[] header) {
        return string(header, 257, 6).startsWith("ustar");
    }

    private static void verifyChecksum(byte[] header) {
        long stored = number(header, 148, 8);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
        }
        if (sum != stored) {
            throw new NativesException("corrupt tar archive: a header checksum is " + stored + ", computed " + sum);
        }
    }

    /** An octal field, or a base-256 one (high bit of the first byte set) as GNU tar writes large sizes. */
    private static long number(byte[] header, int offset, int length) {
        if ((header[offset] & 0x80) != 0) {
            long v = header[offset] & 0x7f;
            for (int i = 1; i < length; i++) {
                v = (v << 8) | (header[offset + i] & 0xff);
            }
            return v;
        }
        String s = string(header, offset, length).strip();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            throw new NativesException("corrupt tar archive: '" + s + "' is not an octal number", e);
        }
    }

    private static String string(byte[] header, int offset, int length) {
        int end = offset;
        while (end < offset + length && header[end] != 0) {
            end++;
        }
        return new String(header, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static String trimNul(String s) {
        int nul = s.indexOf('\0');
        return nul < 0 ? s : s.substring(0, nul);
    }

    /** Pax records: {@code "<length> <key>=<value>\n"}, the length counting the whole record. */
    private static Map<String, String> parsePax(byte[] data) {
        Map<String, String> out = new HashMap<>();
        int pos = 0;
        while (pos < data.length) {
            int space = pos;
            while (space < data.length && data[space] != ' ') {
                space++;
            }
            int length;
            try {
                length = Integer.parseInt(new String(data, pos, space - pos, StandardCharsets.US_ASCII));
            } catch (NumberFormatException e) {
                throw new NativesException("corrupt tar archive: bad pax record length", e);
            }
            if (length <= 0 || pos + length > data.length || space >= pos + length) {
                throw new NativesException("corrupt tar archive: a pax record runs past its header");
            }
            String record = new String(data, space + 1, pos + length - space - 2, StandardCharsets.UTF_8);
            int eq = record.indexOf('=');
            if (eq > 0) {
                out.put(record.substring(0, eq), record.substring(eq + 1));
            }
            pos += length;
        }
        return out;
    }

    private static byte[] readData(InputStream in, long size) throws IOException {
        if (size > 1 << 20) {
            throw new NativesException("corrupt tar archive: a " + size + "-byte metadata entry");
        }
        byte[] data = in.readNBytes((int) size);
        if (data.length < size) {
            throw new EOFException("truncated tar archive");
        }
        skipPadding(in, size);
        return data;
    }

    private static void copy(InputStream in, OutputStream out, long size) throws IOException {
        byte[] buffer = new byte[1 << 16];
        long left = size;
        while (left > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            if (n < 0) {
                throw new NativesException("truncated tar archive: an entry ends " + left + " bytes early");
            }
            out.write(buffer, 0, n);
            left -= n;
        }
    }

    private static void skipData(InputStream in, long size) throws IOException {
        skipExactly(in, size);
        skipPadding(in, size);
    }

    private static void skipPadding(InputStream in, long size) throws IOException {
        long rest = size % BLOCK;
        if (rest != 0) {
            skipExactly(in, BLOCK - rest);
        }
    }

    private static void skipExactly(InputStream in, long n) throws IOException {
        try {
            in.skipNBytes(n);
        } catch (EOFException e) {
            throw new NativesException("truncated tar archive", e);
        }
    }
}
