package dev.blender.nativebridge.gguf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A GPT-2 style byte-level BPE vocabulary for synthetic models: the 256 byte tokens, ordinary pieces made
 * by merges, then the special tokens last, where Qwen keeps them.
 *
 * <p>Byte-level BPE never sees raw bytes: every byte is first renamed to a printable character
 * ({@link #byteToChar}), so space becomes {@code Ġ} and newline {@code Ċ}. Any text encodes because each
 * of its bytes is a token, and the merges are built so that llama.cpp's tokenizer reaches every piece.
 */
final class SyntheticBpeVocabulary {
    /** What llama.cpp's tokenizer.ggml.model calls byte-level BPE. */
    static final String MODEL = "gpt2";
    /**
     * The pre-tokenizer: Qwen's regex, which both the bundled llama.cpp b4916 and current llama.cpp know, and
     * one that leaves spaces alone when decoding ("default" removes spaces before punctuation, which breaks
     * round trips).
     */
    static final String PRE = "qwen2";
    static final String END_OF_TEXT = "<|endoftext|>";
    static final String IM_START = "<|im_start|>";
    static final String IM_END = "<|im_end|>";
    static final List<String> SPECIALS = List.of(END_OF_TEXT, IM_START, IM_END);
    static final int BYTE_TOKENS = 256;
    /** Non-normal tokens: the bytes and the specials, so at least this many plus a few pieces. */
    static final int RESERVED = BYTE_TOKENS + SPECIALS.size();

    private static final char SPACE = byteToChar(' ');
    private static final char NEWLINE = byteToChar('\n');
    /** The byte tokens in GPT-2's order: printable bytes first, in byte order, then the remapped ones. */
    private static final String[] BYTE_TOKEN_TEXT = byteTokenText();

    /** The token texts by id and the merges by rank. */
    record Tokens(List<String> tokens, List<String> merges) {
    }

    private SyntheticBpeVocabulary() {
    }

    /**
     * GPT-2's bytes_to_unicode: printable Latin-1 bytes keep their own character; the other 68 (controls,
     * space, 0x7F-0xA0 and soft hyphen) take the characters from U+0100 on, in byte order, so no token
     * contains whitespace or control characters.
     */
    static char byteToChar(int b) {
        int shift = 0;
        for (int x = 0; x < b; x++) {
            if (!printable(x)) {
                shift++;
            }
        }
        return printable(b) ? (char) b : (char) (256 + shift);
    }

    private static boolean printable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }

    private static String[] byteTokenText() {
        String[] out = new String[BYTE_TOKENS];
        int i = 0;
        for (int b = 0; b < 256; b++) {
            if (printable(b)) {
                out[i++] = String.valueOf((char) b);
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!printable(b)) {
                out[i++] = String.valueOf(byteToChar(b));
            }
        }
        return out;
    }

    /** Text as a byte-level BPE token spells it: each UTF-8 byte renamed by {@link #byteToChar}. */
    static String encode(String text) {
        StringBuilder sb = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            sb.append(byteToChar(b & 0xFF));
        }
        return sb.toString();
    }

    /** The id of one of the {@link #SPECIALS}, which take the last ids. */
    static int specialId(int size, String special) {
        return size - SPECIALS.size() + SPECIALS.indexOf(special);
    }

    /** Byte tokens are normal: llama.cpp's BPE decoder spells out only normal and user-defined tokens. */
    static int tokenType(int id, int size) {
        return id >= size - SPECIALS.size() ? SyntheticVocabulary.TYPE_CONTROL : SyntheticVocabulary.TYPE_NORMAL;
    }

    /**
     * The vocabulary of {@code size} tokens. Merges are ranked in the order their pieces were made, so short
     * common pieces merge first. Seed 0 numbers pieces in that order too; any other seed keeps the first
     * {@link SyntheticVocabulary#FIXED_NORMAL_TOKENS} pieces and shuffles the ids of the rest, so the text at
     * most ids differs while the merges, and thus how text splits into pieces, stay the same.
     */
    static Tokens tokens(int size, long seed) {
        int normal = size - RESERVED;
        Pieces pieces = pieces(normal);
        List<String> out = new ArrayList<>(size);
        out.addAll(Arrays.asList(BYTE_TOKEN_TEXT));
        String[] ordered = pieces.tokens.toArray(String[]::new);
        if (seed != 0) {
            int fixed = Math.min(SyntheticVocabulary.FIXED_NORMAL_TOKENS, normal / 2);
            SplittableRandom random = new SplittableRandom(SyntheticLlama.mix(seed, 0xB9E_5EEDL));
            for (int i = normal - 1; i > fixed; i--) {
                int j = fixed + random.nextInt(i - fixed + 1);
                String tmp = ordered[i];
                ordered[i] = ordered[j];
                ordered[j] = tmp;
            }
        }
        out.addAll(List.of(ordered));
        out.addAll(SPECIALS);
        return new Tokens(List.copyOf(out), List.copyOf(pieces.merges));
    }

    /** {@code count} pieces and the merges that make them, in the order they are made. */
    private static Pieces pieces(int count) {
        Pieces p = new Pieces(count);
        String sp = String.valueOf(SPACE);
        String nl = String.valueOf(NEWLINE);
        // runs of whitespace, which indentation and paragraph breaks are made of
        if (p.word(sp + sp) || p.word(nl + nl) || p.word(sp.repeat(4)) || p.word(sp.repeat(8))) {
            return p;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            if (p.word(sp + c)) {
                return p;
            }
        }
        for (char c = 'A'; c <= 'Z'; c++) {
            if (p.word(sp + c)) {
                return p;
            }
        }
        // accented Latin letters are two UTF-8 bytes; a piece for each makes multi-byte characters single tokens
        for (char c = '\u00C0'; c <= '\u00FF'; c++) {
            if (c != '\u00D7' && c != '\u00F7' && p.word(encode(String.valueOf(c)))) {
                return p;
            }
        }
        for (String w : SyntheticVocabulary.WORDS) {
            if (p.word(sp + w) || p.word(w)) {
                return p;
            }
        }
        SyntheticVocabulary.letterGrams(s -> p.word(s) || p.word(sp + s));
        return p;
    }

    /**
     * Collects pieces until {@code count} are made. Each word is first split the way llama.cpp would split
     * it with the merges so far, then its parts are joined left to right by new merges. New merges rank after
     * all earlier ones, so they never change how an earlier word splits: every piece made here comes back
     * as one token when llama.cpp tokenizes it alone (as a whole pre-tokenizer chunk).
     */
    private static final class Pieces {
        final LinkedHashSet<String> tokens;
        final List<String> merges = new ArrayList<>();
        /** Every text seen, single characters included, numbered so that pairs of them fit one long. */
        private final Map<String, Integer> ids = new HashMap<>();
        private final List<String> texts = new ArrayList<>();
        private final Map<Long, Integer> ranks = new HashMap<>();
        private final int count;

        Pieces(int count) {
            this.count = count;
            this.tokens = LinkedHashSet.newLinkedHashSet(count);
        }

        /** Makes {@code w} (in byte-level characters) a token; returns whether {@code count} pieces exist. */
        boolean word(String w) {
            int[] parts = split(w);
            int joined = parts[0];
            for (int i = 1; i < parts.length; i++) {
                if (tokens.size() >= count) {
                    return true;
                }
                String left = texts.get(joined);
                String right = texts.get(parts[i]);
                ranks.put(pair(joined, parts[i]), merges.size());
                merges.add(left + " " + right);
                joined = id(left + right);
                // the join may spell a piece that an earlier merge already made from other parts
                tokens.add(left + right);
            }
            return tokens.size() >= count;
        }

        private int id(String text) {
            Integer id = ids.putIfAbsent(text, texts.size());
            if (id == null) {
                texts.add(text);
                return texts.size() - 1;
            }
            return id;
        }

        private static long pair(int left, int right) {
            return (long) left << 32 | right;
        }

        /** llama.cpp's BPE: repeatedly apply the lowest-ranked merge present, leftmost first. */
        private int[] split(String w) {
            int[] parts = new int[w.length()];
            int n = parts.length;
            for (int i = 0; i < n; i++) {
                parts[i] = id(w.substring(i, i + 1));
            }
            while (n > 1) {
                int best = -1;
                int bestRank = Integer.MAX_VALUE;
                for (int i = 0; i + 1 < n; i++) {
                    Integer rank = ranks.get(pair(parts[i], parts[i + 1]));
                    if (rank != null && rank < bestRank) {
                        best = i;
                        bestRank = rank;
                    }
                }
                if (best < 0) {
                    break;
                }
                parts[best] = id(texts.get(parts[best]) + texts.get(parts[best + 1]));
                System.arraycopy(parts, best + 2, parts, best + 1, n - best - 2);
                n--;
            }
            return Arrays.copyOf(parts, n);
        }
    }
}
