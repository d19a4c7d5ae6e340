package dev.blender.runtime.combine;

import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.VocabCompatibility;
import dev.blender.nativebridge.VocabType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How the token ids of several models line up. When every vocabulary passes llama.cpp's
 * compatibility rule ({@link VocabCompatibility}) ids are shared and the mapping is the identity.
 * Otherwise, if allowed, tokens are matched by the <em>bytes they decode to</em> over the union of all
 * vocabularies, so that tokenizer families with different spellings of the same text mix: SentencePiece
 * writes a space as {@code ▁} and a raw byte as {@code <0xNN>}, byte-level BPE (GPT-2, Qwen, Llama 3)
 * writes it as {@code Ġ} and a newline as {@code Ċ}, and both decode to the same bytes. Control tokens
 * match by their text, except that every end-of-generation token is one and the same event. Where a
 * member has several tokens for the same bytes (a byte token beside a one-character piece), their
 * probabilities add up. A token one member lacks gets no probability from it in a mixture, or, in a
 * product, the probability of the first token of that member's own spelling of the bytes
 * ({@link #gather}), except from the first member, whose tokens a product keeps to
 * ({@link #gatherAll}); when it is chosen that member is fed the bytes spelt with its own tokens (longest
 * match, single-byte tokens as the fallback). A token with a byte that never occurs in UTF-8 text (0xc0, 0xc1,
 * 0xf5-0xff), which a member cannot spell, is never chosen: no text needs it, and no member could be fed it.
 * A vocabulary that cannot spell text byte for byte (WordPiece, or one lacking a byte UTF-8 text uses) is
 * refused with the reason.
 */
public final class VocabAlignment {

    /** What to do when vocabularies differ. */
    public enum Policy {
        /** Refuse models whose vocabularies are not id-compatible. */
        REQUIRE_SHARED,
        /** Align different vocabularies by the bytes their tokens decode to. */
        ALIGN_BY_TEXT
    }

    private final List<Vocab> vocabs;
    private final boolean identity;
    private final int size;
    /** Each union token's key: its bytes as ISO-8859-1 characters, or CONTROL + its text. */
    private final List<String> unionText;
    /** memberId[k][u]: member k's id of union token u, or -1. */
    private final int[][] memberId;
    /** extraIds[k]: pairs (u, id) of member k's further ids with the bytes of union token u. */
    private final int[][] extraIds;
    /** unionId[k][id]: the union token of member k's id. */
    private final int[][] unionId;
    /** proxyId[k][u]: memberId, or for a token member k lacks the first token of its own spelling of it. */
    private final int[][] proxyId;
    private final List<Map<String, Integer>> textToId;
    private final int maxTokenChars;
    /** Union tokens some member cannot spell, all of them for a byte no UTF-8 text has: never chosen. */
    private final int[] vetoed;

    private VocabAlignment(List<Vocab> vocabs, VocabCompatibility difference) {
        boolean identity = difference == null;
        this.vocabs = List.copyOf(vocabs);
        this.identity = identity;
        if (identity) {
            this.size = vocabs.stream().mapToInt(Vocab::size).min().orElseThrow();
            this.unionText = List.of();
            this.memberId = null;
            this.extraIds = null;
            this.unionId = null;
            this.proxyId = null;
            this.textToId = List.of();
            this.maxTokenChars = 0;
            this.vetoed = new int[0];
            return;
        }
        Map<String, Integer> union = new HashMap<>();
        List<String> texts = new ArrayList<>();
        List<Map<String, Integer>> perMember = new ArrayList<>();
        String[][] keys = new String[vocabs.size()][];
        int longest = 1;
        for (int k = 0; k < vocabs.size(); k++) {
            Vocab v = vocabs.get(k);
            Map<String, Integer> own = new HashMap<>();
            keys[k] = new String[v.size()];
            for (int id = 0; id < v.size(); id++) {
                String t = key(v, id);
                keys[k][id] = t;
                Integer before = own.get(t);
                // a member is fed its ordinary token for some bytes, never its byte-fallback token for
                // them: SentencePiece models rarely saw those and continue badly after one
                if (before == null || (isByteToken(v, before) && !isByteToken(v, id))) {
                    own.put(t, id);
                }
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
        this.extraIds = new int[vocabs.size()][];
        this.unionId = new int[vocabs.size()][];
        for (int k = 0; k < vocabs.size(); k++) {
            Arrays.fill(memberId[k], -1);
            for (Map.Entry<String, Integer> e : perMember.get(k).entrySet()) {
                memberId[k][union.get(e.getKey())] = e.getValue();
            }
            Vocab v = vocabs.get(k);
            unionId[k] = new int[v.size()];
            List<Integer> extra = new ArrayList<>();
            for (int id = 0; id < v.size(); id++) {
                int u = union.get(keys[k][id]);
                unionId[k][id] = u;
                if (memberId[k][u] != id) {
                    extra.add(u);
                    extra.add(id);
                }
            }
            extraIds[k] = extra.stream().mapToInt(Integer::intValue).toArray();
        }
        this.proxyId = new int[vocabs.size()][size];
        BitSet never = new BitSet(size);
        for (int k = 0; k < vocabs.size(); k++) {
            for (int u = 0; u < size; u++) {
                if (memberId[k][u] >= 0) {
                    proxyId[k][u] = memberId[k][u];
                    continue;
                }
                Spelling sp = spell(k, u);
                if (sp.ids() != null) {
                    proxyId[k][u] = sp.ids()[0];
                } else if (neverInUtf8(sp.missingByte())) {
                    proxyId[k][u] = -1;
                    never.set(u);
                } else {
                    throw new IncompatibleVocabularyException(name(k) + " cannot spell the text of "
                            + name(owner(u)) + "'s token '" + text(u) + "' byte for byte: it has no token for the byte 0x"
                            + hex(sp.missingByte()) + ", so it could not read the text the others write; align it only"
                            + " with vocabularies that spell every byte (byte-level BPE, SentencePiece with byte"
                            + " fallback), or mix models that share one vocabulary", difference);
                }
            }
        }
        this.vetoed = never.stream().toArray();
    }

    /**
     * Aligns the vocabularies of the given models (in member order).
     *
     * @throws IncompatibleVocabularyException under {@link Policy#REQUIRE_SHARED} when ids differ (the
     *                                         message gives llama.cpp's reasons); under
     *                                         {@link Policy#ALIGN_BY_TEXT} when a member cannot spell the others'
     *                                         text byte for byte (the message says which and why)
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
                refuseWordPiece(vocabs, c);
                return new VocabAlignment(vocabs, c);
            }
        }
        return new VocabAlignment(vocabs, null);
    }

    /**
     * WordPiece (BERT) lower-cases text, strips its accents and decodes a word as a space plus its text, so no
     * text another member writes can be spelt in it as the same bytes: refused before any spelling is tried.
     */
    private static void refuseWordPiece(List<Vocab> vocabs, VocabCompatibility c) {
        for (Vocab v : vocabs) {
            if (v.type() == VocabType.WPM) {
                List<String> others = vocabs.stream().filter(o -> o != v)
                        .map(o -> o.model().path().getFileName().toString()).toList();
                throw new IncompatibleVocabularyException(v.model().path().getFileName() + " has a WordPiece (BERT-style)"
                        + " vocabulary, which lower-cases text and strips its accents: text cannot be spelt in it byte"
                        + " for byte, so it cannot be aligned by text with " + String.join(", ", others)
                        + "; mix it only with models that share its vocabulary", c);
            }
        }
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
        int[] extra = extraIds[k];
        for (int i = 0; i < extra.length; i += 2) {
            // two tokens for the same bytes: the bytes' probability is the sum (log-sum-exp of logits)
            int u = extra[i];
            float a = dst[u];
            float b = row.getAtIndex(ValueLayout.JAVA_FLOAT, extra[i + 1]);
            float hi = Math.max(a, b);
            dst[u] = hi == Float.NEGATIVE_INFINITY ? hi : hi + (float) Math.log1p(Math.exp(-Math.abs(a - b)));
        }
        for (int u : vetoed) {
            dst[u] = Float.NEGATIVE_INFINITY;
        }
    }

    /**
     * Every member's row in the combined space as a combination by {@code method} reads them. A mixture
     * ({@link CombineMethod#LINEAR}) takes each member's own tokens only. A product takes the first
     * member's own tokens, so it speaks the first member's vocabulary and vetoes tokens only others have,
     * and lets every other member stand in for a token it lacks with its spelling's first token: a proxy in
     * the first member's row would copy, say, " t"'s probability to a longer " the" it lacks, so that its
     * row no longer sums to one and its own tokens lose the copies' share (stories260K alone through a
     * product of it and aidreams260K scored 1.54 bits per byte of TinyStories against its own 1.11).
     */
    void gatherAll(MemorySegment[] rows, float[][] dst, CombineMethod method) {
        boolean product = method != CombineMethod.LINEAR;
        for (int k = 0; k < rows.length; k++) {
            gather(k, rows[k], dst[k], product && k > 0);
        }
    }

    /** The combined token of member k's token id. */
    public int unionId(int k, int id) {
        return identity ? id : unionId[k][id];
    }

    /**
     * Text of combined token u: as stored in the vocabulary (e.g. "▁the") when ids are shared, else the
     * text its bytes decode to (" the"), or a control token's own text.
     */
    public String text(int u) {
        if (identity) {
            return vocabs.get(0).text(u);
        }
        String key = unionText.get(u);
        return key.startsWith(CONTROL) ? key.substring(CONTROL.length())
                : new String(key.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    /** Marks keys that are control-token text, not bytes (no decoded text starts with a NUL and a SOH). */
    private static final String CONTROL = "\u0000\u0001";
    /** The one key of every end-of-generation token. */
    private static final String END_OF_GENERATION = CONTROL + "<end of generation>";

    /** llama_token_attr's LLAMA_TOKEN_ATTR_BYTE: a SentencePiece byte-fallback token such as <0x41>. */
    private static final int ATTR_BYTE = 1 << 5;

    private static boolean isByteToken(Vocab v, int id) {
        return (v.attributes(id) & ATTR_BYTE) != 0;
    }

    /** What a token is matched by: its decoded bytes, or for a control token its text. */
    static String key(Vocab v, int id) {
        if (v.isEndOfGeneration(id)) {
            return END_OF_GENERATION;
        }
        byte[] bytes = v.piece(id, false);
        if (bytes.length == 0 || v.isControl(id)) {
            return CONTROL + v.text(id);
        }
        return new String(bytes, StandardCharsets.ISO_8859_1);
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
     * The tokens member k is fed for combined token u: its own id when it has one, otherwise the bytes
     * spelt with its tokens, longest match first (single-byte tokens, which SentencePiece's byte
     * fallback and byte-level BPE both have, for what nothing longer matches).
     *
     * @throws IllegalArgumentException u is a token no member is ever fed ({@link #isVetoed})
     */
    public int[] feed(int k, int u) {
        int id = memberId(k, u);
        if (id >= 0) {
            return new int[] {id};
        }
        Spelling sp = spell(k, u);
        if (sp.ids() == null) {
            throw new IllegalArgumentException(name(k) + " cannot spell '" + text(u) + "': its vocabulary lacks the"
                    + " byte 0x" + hex(sp.missingByte()) + ", which never occurs in UTF-8 text");
        }
        return sp.ids();
    }

    /**
     * Whether combined token u has bytes that never occur in UTF-8 text and that a member cannot spell: it gets
     * no probability from any member, so it is never chosen or fed.
     */
    public boolean isVetoed(int u) {
        return !identity && Arrays.binarySearch(vetoed, u) >= 0;
    }

    /** How many combined tokens are never chosen ({@link #isVetoed}). */
    public int vetoedCount() {
        return vetoed.length;
    }

    /** Member k's own tokens for union token u's bytes, or (ids null) the first byte it has no token for. */
    private record Spelling(int[] ids, int missingByte) {}

    private Spelling spell(int k, int u) {
        String key = unionText.get(u);
        // a control token a member lacks is spelt as its text; anything else as its bytes
        String text = key.startsWith(CONTROL)
                ? new String(key.substring(CONTROL.length()).getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1)
                : key;
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
            if (found < 0) {
                return new Spelling(null, text.charAt(i));
            }
            out.add(found);
            i += len;
        }
        return new Spelling(out.stream().mapToInt(Integer::intValue).toArray(), -1);
    }

    /** Lead bytes of overlong two-byte forms (0xc0, 0xc1) and of code points past U+10FFFF (0xf5-0xff). */
    static boolean neverInUtf8(int b) {
        return b == 0xc0 || b == 0xc1 || b >= 0xf5;
    }

    private String name(int k) {
        return vocabs.get(k).model().path().getFileName().toString();
    }

    /** The first member that has union token u. */
    private int owner(int u) {
        for (int k = 0; k < vocabs.size(); k++) {
            if (memberId[k][u] >= 0) {
                return k;
            }
        }
        throw new IllegalStateException("union token " + u + " belongs to no member");
    }

    private static String hex(int b) {
        return String.format("%02x", b);
    }

    /**
     * Vocabularies that cannot be mixed: not id by id under a policy that requires it, or not by text because a
     * member cannot spell the others' text byte for byte.
     */
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
