package dev.blender.nativebridge;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Whether two vocabularies are the same for the purpose of mixing models token by token, decided by
 * the rule llama.cpp's speculative decoding uses to accept a draft model: same tokenizer type, same
 * BOS/EOS handling and ids, sizes within {@value #MAX_SIZE_DIFFERENCE}, and identical token text for
 * every id from {@value #FIRST_CHECKED_ID} up to the smaller size.
 *
 * @param compatible   true when token ids mean the same in both vocabularies
 * @param differences  one line per failed rule, in words; empty when compatible
 * @param textMismatches how many ids (>= {@value #FIRST_CHECKED_ID}) have different text
 * @param firstTextMismatch the first such id, or -1
 */
public record VocabCompatibility(boolean compatible, List<String> differences, int textMismatches,
                                 int firstTextMismatch) {
    /** llama.cpp's SPEC_VOCAB_MAX_SIZE_DIFFERENCE. */
    public static final int MAX_SIZE_DIFFERENCE = 128;
    /** llama.cpp's SPEC_VOCAB_CHECK_START_TOKEN_ID: the first ids are special tokens that may differ. */
    public static final int FIRST_CHECKED_ID = 5;

    public VocabCompatibility {
        differences = List.copyOf(differences);
    }

    /** Compares two loaded vocabularies (a vocab-only load is enough: {@link ModelOptions#withVocabOnly}). */
    public static VocabCompatibility check(Vocab a, Vocab b) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        List<String> diffs = new ArrayList<>();
        if (a.type() != b.type()) {
            diffs.add("tokenizer types differ: " + a.type() + " vs " + b.type());
        }
        if (a.addsBos() != b.addsBos() || (a.addsBos() && a.bos() != b.bos())) {
            diffs.add("BOS handling differs: add_bos=" + a.addsBos() + " bos=" + a.bos() + " vs add_bos="
                    + b.addsBos() + " bos=" + b.bos());
        }
        if (a.addsEos() != b.addsEos() || (a.addsEos() && a.eos() != b.eos())) {
            diffs.add("EOS handling differs: add_eos=" + a.addsEos() + " eos=" + a.eos() + " vs add_eos="
                    + b.addsEos() + " eos=" + b.eos());
        }
        int sizeDiff = Math.abs(a.size() - b.size());
        if (sizeDiff > MAX_SIZE_DIFFERENCE) {
            diffs.add("sizes differ by " + sizeDiff + " (> " + MAX_SIZE_DIFFERENCE + "): " + a.size() + " vs "
                    + b.size() + " tokens");
        }
        int mismatches = 0;
        int first = -1;
        String firstA = null;
        String firstB = null;
        int n = Math.min(a.size(), b.size());
        for (int id = FIRST_CHECKED_ID; id < n; id++) {
            String ta = a.text(id);
            String tb = b.text(id);
            if (!ta.equals(tb)) {
                if (first < 0) {
                    first = id;
                    firstA = ta;
                    firstB = tb;
                }
                mismatches++;
            }
        }
        if (mismatches > 0) {
            diffs.add(mismatches + " token ids have different text, the first is id " + first + ": \"" + firstA
                    + "\" vs \"" + firstB + "\"");
        }
        return new VocabCompatibility(diffs.isEmpty(), diffs, mismatches, first);
    }

    /** One line: "compatible" or the reasons joined. */
    public String explain() {
        return compatible ? "compatible" : "incompatible: " + String.join("; ", differences);
    }
}
