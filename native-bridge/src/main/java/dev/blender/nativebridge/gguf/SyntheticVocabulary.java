package dev.blender.nativebridge.gguf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * A SentencePiece-style vocabulary for synthetic models: control tokens, the 256 byte-fallback tokens
 * (so llama.cpp's SPM tokenizer can encode any text), then ordinary pieces from short to long.
 */
final class SyntheticVocabulary {
    /** Space marker used by SentencePiece. */
    static final String SPACE = "\u2581";
    static final int UNKNOWN_ID = 0;
    static final int BOS_ID = 1;
    static final int EOS_ID = 2;
    static final int FIRST_BYTE_ID = 3;
    static final int FIRST_NORMAL_ID = FIRST_BYTE_ID + 256;

    static final int TYPE_NORMAL = 1;
    static final int TYPE_UNKNOWN = 2;
    static final int TYPE_CONTROL = 3;
    static final int TYPE_BYTE = 6;

    /** Leading normal tokens every vocabulary seed keeps, so variants still share their common pieces. */
    static final int FIXED_NORMAL_TOKENS = 100;

    /** Common English words, so synthetic vocabularies hold the pieces ordinary prompts are made of. */
    static final String[] WORDS = ("the of and to in is was he for it with as his on be at by had are"
            + " but from or have an they which one you were her all she there would their we him been has when"
            + " who will more no if out so said what up its about into than them can only other new some could"
            + " time these two may then do first any my now such like our over man me even most made after also"
            + " did many before must through back years where much your way well down should because each just"
            + " those people how too little state good very make world still own see men work long get here"
            + " between both life being under never day same another know while last might us great old year off"
            + " come since against go came right used take three story once upon cat dog big small happy sad"
            + " play fun friend mom dad tree sun ball red blue green house girl boy named wanted saw went").split(" ");

    private SyntheticVocabulary() {
    }

    /**
     * The token texts for a vocabulary of {@code size} entries. Seed 0 gives the canonical order; any other
     * seed keeps the first {@link #FIXED_NORMAL_TOKENS} normal pieces and draws the rest from a larger
     * pool in a seed-dependent order, so the text at most ids differs while the size stays the same.
     */
    static List<String> tokens(int size, long seed) {
        List<String> out = new ArrayList<>(size);
        out.add("<unk>");
        out.add("<s>");
        out.add("</s>");
        for (int b = 0; b < 256; b++) {
            out.add(String.format("<0x%02X>", b));
        }
        int normal = size - FIRST_NORMAL_ID;
        if (seed == 0) {
            out.addAll(canonical(normal));
            return out;
        }
        int fixed = Math.min(FIXED_NORMAL_TOKENS, normal / 2);
        int tail = normal - fixed;
        String[] pool = canonical(normal + tail).toArray(String[]::new);
        // a partial Fisher-Yates over [fixed, end) both reorders and replaces the tail pieces
        SplittableRandom random = new SplittableRandom(SyntheticLlama.mix(seed, 0x5EED_70C5L));
        for (int i = fixed; i < normal; i++) {
            int j = i + random.nextInt(pool.length - i);
            String tmp = pool[i];
            pool[i] = pool[j];
            pool[j] = tmp;
        }
        out.addAll(Arrays.asList(pool).subList(0, normal));
        return out;
    }

    static int tokenType(int id) {
        if (id == UNKNOWN_ID) {
            return TYPE_UNKNOWN;
        }
        if (id < FIRST_BYTE_ID) {
            return TYPE_CONTROL;
        }
        return id < FIRST_NORMAL_ID ? TYPE_BYTE : TYPE_NORMAL;
    }

    /** SPM merges prefer higher scores, so earlier (shorter, more common) pieces win. */
    static float score(int id) {
        return id < FIRST_NORMAL_ID ? 0f : -(float) id;
    }

    private static List<String> canonical(int count) {
        LinkedHashSet<String> out = LinkedHashSet.newLinkedHashSet(count);
        if (add(out, SPACE, count)) {
            return List.copyOf(out);
        }
        for (char c = '!'; c <= '~'; c++) {
            if (add(out, String.valueOf(c), count)) {
                return List.copyOf(out);
            }
        }
        for (String letters : List.of("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
            for (char c : letters.toCharArray()) {
                if (add(out, SPACE + c, count)) {
                    return List.copyOf(out);
                }
            }
        }
        for (String w : WORDS) {
            if (add(out, SPACE + w, count)) {
                return List.copyOf(out);
            }
        }
        letterGrams(s -> add(out, s, count) || add(out, SPACE + s, count));
        return List.copyOf(out);
    }

    /**
     * Offers "aa" to "zz", then "aaa" and so on, until {@code stop} accepts one: an endless supply of
     * plausible pieces that fills a vocabulary of any size after the word list runs out.
     */
    static void letterGrams(Predicate<String> stop) {
        for (int n = 2; ; n++) {
            char[] gram = new char[n];
            Arrays.fill(gram, 'a');
            while (true) {
                if (stop.test(new String(gram))) {
                    return;
                }
                int k = n - 1;
                while (k >= 0 && gram[k] == 'z') {
                    gram[k--] = 'a';
                }
                if (k < 0) {
                    break;
                }
                gram[k]++;
            }
        }
    }

    /** Adds unless already present; returns whether {@code count} pieces have been collected. */
    private static boolean add(LinkedHashSet<String> out, String piece, int count) {
        if (out.size() < count) {
            out.add(piece);
        }
        return out.size() >= count;
    }
}
