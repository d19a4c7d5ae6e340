package dev.blender.nativebridge.generation;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a stream of token pieces (bytes) into text for streaming: emits only complete UTF-8
 * characters, detects stop strings (cutting the text before them), and holds back the tail that
 * could still become a stop string so a listener never sees part of one. Not thread-safe.
 */
public final class StreamingText {
    private final List<String> stops;
    private final int holdBack;
    private byte[] bytes = new byte[64];
    private int length;
    private String text = "";
    private int emitted;
    private boolean stopped;

    public StreamingText(List<String> stops) {
        this.stops = List.copyOf(stops);
        this.holdBack = Math.max(0, this.stops.stream().mapToInt(String::length).max().orElse(0) - 1);
    }

    /** Appends a token's bytes and returns the text that may now be shown (possibly empty). */
    public String append(byte[] piece) {
        if (stopped) {
            throw new IllegalStateException("the text already reached a stop string");
        }
        if (length + piece.length > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + piece.length));
        }
        System.arraycopy(piece, 0, bytes, length, piece.length);
        length += piece.length;
        text = new String(bytes, 0, completeUtf8(bytes, length), StandardCharsets.UTF_8);
        int cut = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop, Math.max(0, emitted - stop.length()));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            text = text.substring(0, cut);
            stopped = true;
        }
        int safe = stopped ? text.length() : Math.max(emitted, text.length() - holdBack);
        String fresh = safe > emitted ? text.substring(emitted, safe) : "";
        emitted = Math.max(emitted, safe);
        return fresh;
    }

    /** True once the text has reached a stop string. */
    public boolean stopped() {
        return stopped;
    }

    /** The text so far (complete characters, stop string excluded). */
    public String text() {
        return text;
    }

    /** Releases the held-back tail at the end of generation; returns it (possibly empty). */
    public String flush() {
        String rest = emitted < text.length() ? text.substring(emitted) : "";
        emitted = text.length();
        return rest;
    }

    /** Length of the longest prefix of {@code b[0..len)} that ends on a complete UTF-8 character. */
    static int completeUtf8(byte[] b, int len) {
        for (int back = 1; back <= Math.min(3, len); back++) {
            int lead = b[len - back] & 0xff;
            if ((lead & 0xC0) == 0x80) {
                continue; // continuation byte: look further back for the lead
            }
            int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            return need > back ? len - back : len;
        }
        return len;
    }
}
