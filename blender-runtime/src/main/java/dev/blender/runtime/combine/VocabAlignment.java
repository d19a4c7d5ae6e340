package dev.blender.runtime.combine;

import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.VocabCompatibility;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How the token ids of several models line up. When every vocabulary passes llama.cpp's
 * compatibility rule ({@link VocabCompatibility}) ids are shared and the mapping is the identity.
 * Otherwise, if allowed, tokens are matched by their text over the union of all vocabularies: a token
 * one model lacks gets no probability from it in a mixture, or, in a product, the probability of the
 * first token of that model's own spelling of the text ({@link #gather}); when it is chosen that model is fed the text spelt with its own tokens
 * (longest match, byte tokens as the fallback).
 */
public final class VocabAlignment {

    /** What to do when vocabularies differ. */
    public enum Policy {
        /** Refuse models whose vocabularies are not id-compatible. */
        REQUIRE_SHARED,
        /** Align different vocabularies by token text. */
        ALIGN_BY_TEXT
    }

    private final List<Vocab> vocabs;
    private final boolean identity;
    private final int size;
    private final List<String> unionText;
    /** memberId[k][u]: member k's id of union token u, or -1. */
    private final int[][] memberId;
    /** unionId[k][id]: the union token of member k's id. */
    private final int[][] unionId;
    /** proxyId[k][u]: memberId, or for a token member k lacks the first token of its own spelling of it. */
    private final int[][] proxyId;
    private final List<Map<String, Integer>> textToId;
    private final int maxTokenChars;

    private VocabAlignment(List<Vocab> vocabs, boolean identity) {
        this.vocabs = List.copyOf(vocabs);
        this.identity = identity;
        if (identity) {
            this.size = vocabs.stream().mapToInt(Vocab::size).min().orElseThrow();
            this.unionText = List.of();
            this.memberId = null;
            this.unionId = null;
            this.proxyId = null;
            this.textToId = List.of();
            this.maxTokenChars = 0;
            return;
        }
        Map<String, Integer> union = new HashMap<>();
        List<String> texts = new ArrayList<>();
        List<Map<String, Integer>> perMember = new ArrayList<>();
        int longest = 1;
        for (Vocab v : vocabs) {
            Map<String, Integer> own = new HashMap<>();
            for (int id = 0; id < v.size(); id++) {
                String t = v.text(id);
                own.putIfAbsent(t, id);
                longest = Math.max(longest, t.length());
                if (!union.containsKey(t)) {
                    union.put(t, texts.size());
                    texts.add(t);
                }
            }
            perMember.add(own);
        }
        this.size = texts.size();
        this.unionText = List.copyOf(texts);
        this.textToId = List.copyOf(perMember);
        this.maxTokenChars = longest;
        this.memberId = new int[vocabs.size()][size];
        this.unionId = new int[vocabs.size()][];
        for (int k = 0; k < vocabs.size(); k++) {
            Arrays.fill(memberId[k], -1);
            for (Map.Entry<String, Integer> e : perMember.get(k).entrySet()) {
                memberId[k][union.get(e.getKey())] = e.getValue();
            }
            Vocab v = vocabs.get(k);
            unionId[k] = new int[v.size()];
            for (int id = 0; id < v.size(); id++) {
                unionId[k][id] = union.get(v.text(id));
            }
        }
        this.proxyId = new int[vocabs.size()][size];
        for (int k = 0; k < vocabs.size(); k++) {
            for (int u = 0; u < size; u++) {
                proxyId[k][u] = memberId[k][u] >= 0 ? memberId[k][u] : feed(k, u)[0];
            }
        }
    }

    /**
     * Aligns the vocabularies of the given models (in member order).
     *
     * @throws IncompatibleVocabularyException under {@link Policy#REQUIRE_SHARED} when ids differ; the
     *                                         message gives llama.cpp's reasons
     */
    public static VocabAlignment of(List<Vocab> vocabs, Policy policy) {
        Objects.requireNonNull(policy, "policy");
        if (vocabs.isEmpty()) {
            throw new IllegalArgumentException("no vocabularies to align");
        }
        for (int k = 1; k < vocabs.size(); k++) {
            VocabCompatibility c = VocabCompatibility.check(vocabs.get(0), vocabs.get(k));
            if (!c.compatible()) {
                if (policy == Policy.REQUIRE_SHARED) {
                    throw new IncompatibleVocabularyException(vocabs.get(0).model().path().getFileName() + " and "
                            + vocabs.get(k).model().path().getFileName() + " do not share a vocabulary ("
                            + c.explain() + "); align them by token text (Policy.ALIGN_BY_TEXT) or pick models"
                            + " of one family", c);
                }
                return new VocabAlignment(vocabs, false);
            }
        }
        return new VocabAlignment(vocabs, true);
    }

    /** True when all members share ids: combination needs no gathering. */
    public boolean isIdentity() {
        return identity;
    }

    /** Size of the combined token space. */
    public int size() {
        return size;
    }

    public int members() {
        return vocabs.size();
    }

    /** Member k's id for combined token u, or -1 when it has no such token. */
    public int memberId(int k, int u) {
        return identity ? u : memberId[k][u];
    }

    /**
     * Member k's logits in the combined token space. A token the member lacks either gets no
     * probability ({@code proxy == false}: right for a mixture of probabilities, where another member
     * supplies it) or the logit of the first token of the member's own spelling of it ({@code proxy}, as
     * GaC does: needed by products of experts, where one zero would veto the token). Each row is
     * renormalised by the combination, so it stays a distribution.
     */
    public void gather(int k, MemorySegment row, float[] dst, boolean proxy) {
        int[] ids = proxy ? proxyId[k] : memberId[k];
        for (int u = 0; u < size; u++) {
            int id = ids[u];
            dst[u] = id < 0 ? Float.NEGATIVE_INFINITY : row.getAtIndex(ValueLayout.JAVA_FLOAT, id);
        }
    }

    /** The combined token of member k's token id. */
    public int unionId(int k, int id) {
        return identity ? id : unionId[k][id];
    }

    /** Text of combined token u (as stored in the vocabulary, e.g. "▁the"). */
    public String text(int u) {
        return identity ? vocabs.get(0).text(u) : unionText.get(u);
    }

    /** How many combined tokens member k has (the overlap of vocabularies when not identity). */
    public int coverage(int k) {
        if (identity) {
            return size;
        }
        int c = 0;
        for (int id : memberId[k]) {
            c += id >= 0 ? 1 : 0;
        }
        return c;
    }

    /**
     * The tokens member k is fed for combined token u: its own id when it has one, otherwise the text
     * spelt with its tokens, longest match first, UTF-8 byte tokens for what nothing matches.
     */
    public int[] feed(int k, int u) {
        int id = memberId(k, u);
        if (id >= 0) {
            return new int[] {id};
        }
        String text = unionText.get(u);
        String bytes = byteTokenText(text);
        if (bytes != null) {
            text = bytes;
        }
        Map<String, Integer> own = textToId.get(k);
        List<Integer> out = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            int found = -1;
            int len = 0;
            for (int j = Math.min(text.length(), i + maxTokenChars); j > i; j--) {
                Integer t = own.get(text.substring(i, j));
                if (t != null) {
                    found = t;
                    len = j - i;
                    break;
                }
            }
            if (found >= 0) {
                out.add(found);
                i += len;
                continue;
            }
            int cp = text.codePointAt(i);
            for (byte b : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8)) {
                Integer t = own.get(String.format("<0x%02X>", b & 0xff));
                if (t == null) {
                    throw new IllegalStateException("member " + k + " can spell neither '" + unionText.get(u)
                            + "' nor its bytes: its vocabulary has no byte tokens");
                }
                out.add(t);
            }
            i += Character.charCount(cp);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** "<0x41>" -> "A" (only for printable single bytes; other bytes stay byte tokens). */
    private static String byteTokenText(String t) {
        if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
            int b = Integer.parseInt(t.substring(3, 5), 16);
            return b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : null;
        }
        return null;
    }

    /** Vocabularies that cannot be mixed id by id, under a policy that requires it. */
    public static final class IncompatibleVocabularyException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

        private final transient VocabCompatibility compatibility;

        IncompatibleVocabularyException(String message, VocabCompatibility compatibility) {
            super(message);
            this.compatibility = compatibility;
        }

        public VocabCompatibility compatibility() {
            return compatibility;
        }
    }
}
