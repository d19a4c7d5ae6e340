package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.RealVocabularies;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.VocabCompatibility;
import dev.blender.nativebridge.VocabType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufMutator;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.GgufValueType;
import dev.blender.runtime.combine.VocabAlignment.IncompatibleVocabularyException;
import dev.blender.runtime.combine.VocabAlignment.Policy;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Aligning the vocabularies of real model families by the bytes their tokens decode to (llama.cpp's test
 * vocabularies; those the running llama.cpp loads). Every union token must reach every member as the same
 * bytes, spelt with that member's own tokens where it lacks the token; a vocabulary that cannot spell text byte
 * for byte must be refused with the reason.
 */
class RealVocabAlignmentTest {
    private static final Map<String, LlamaModel> MODELS = new LinkedHashMap<>();
    /** Each vocabulary's token pieces, read once: the bytes every check below compares. */
    private static final Map<String, byte[][]> PIECES = new LinkedHashMap<>();

    @BeforeAll
    static void load() {
        for (Path p : RealVocabularies.all()) {
            String name = RealVocabularies.name(p);
            if (RealVocabularies.loads(name)) {
                LlamaModel m = LlamaModel.load(p, RealVocabularies.VOCAB_ONLY);
                MODELS.put(name, m);
                Vocab v = m.vocab();
                byte[][] pieces = new byte[v.size()][];
                for (int id = 0; id < v.size(); id++) {
                    pieces[id] = v.piece(id, false);
                }
                PIECES.put(name, pieces);
            }
        }
    }

    @AfterAll
    static void close() {
        MODELS.values().forEach(LlamaModel::close);
        MODELS.clear();
        PIECES.clear();
    }

    private static Vocab vocab(String name) {
        LlamaModel m = MODELS.get(name);
        assertTrue(m != null, name + " is not among the loaded vocabularies " + MODELS.keySet());
        return m.vocab();
    }

    private static VocabAlignment align(String a, String b) {
        return VocabAlignment.of(List.of(vocab(a), vocab(b)), Policy.ALIGN_BY_TEXT);
    }

    private static byte[] bytes(String name, int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            out.writeBytes(PIECES.get(name)[id]);
        }
        return out.toByteArray();
    }

    private static boolean hasNeverUtf8Byte(byte[] b) {
        for (byte x : b) {
            int v = x & 0xff;
            if (v == 0xc0 || v == 0xc1 || v >= 0xf5) {
                return true;
            }
        }
        return false;
    }

    /**
     * Checks that every combined token reaches both members as the bytes it stands for, and that a vetoed token
     * is one with a byte no UTF-8 text has. Returns how many tokens are vetoed.
     */
    private static int checkEveryTokenSpellsTheSameBytes(VocabAlignment al, String... names) {
        int vetoed = 0;
        for (int u = 0; u < al.size(); u++) {
            int owner = al.memberId(0, u) >= 0 ? 0 : 1;
            int ownId = al.memberId(owner, u);
            Vocab own = vocab(names[owner]);
            byte[] expected = PIECES.get(names[owner])[ownId];
            if (own.isEndOfGeneration(ownId) || own.isControl(ownId) || expected.length == 0) {
                continue; // control tokens match by their text, not bytes
            }
            if (al.isVetoed(u)) {
                vetoed++;
                assertTrue(hasNeverUtf8Byte(expected), "vetoed " + names[owner] + " token " + ownId
                        + " although UTF-8 text can hold its bytes");
                continue;
            }
            for (int k = 0; k < names.length; k++) {
                assertArrayEquals(expected, bytes(names[k], al.feed(k, u)), names[k] + " fed " + names[owner]
                        + " token " + ownId + " '" + al.text(u) + "' as other bytes");
            }
        }
        return vetoed;
    }

    /** Byte-level BPE and SentencePiece: the families that spell any text byte for byte. */
    private static List<String> spellers() {
        return MODELS.entrySet().stream()
                .filter(e -> e.getValue().vocab().type() == VocabType.BPE || e.getValue().vocab().type() == VocabType.SPM)
                .map(Map.Entry::getKey).toList();
    }

    @TestFactory
    Stream<DynamicTest> everyPairOfByteLevelAndSentencePieceVocabulariesAligns() {
        List<String> names = spellers();
        assertTrue(names.size() >= 6, "byte-level BPE and SentencePiece vocabularies: " + names);
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            for (int j = i + 1; j < names.size(); j++) {
                String a = names.get(i);
                String b = names.get(j);
                tests.add(DynamicTest.dynamicTest(a + " + " + b, () -> {
                    VocabAlignment al = align(a, b);
                    boolean shared = VocabCompatibility.check(vocab(a), vocab(b)).compatible();
                    assertEquals(shared, al.isIdentity(), "ids are shared exactly when llama.cpp's rule says so");
                    if (shared) {
                        return;
                    }
                    int vetoed = checkEveryTokenSpellsTheSameBytes(al, a, b);
                    System.out.printf("aligned %s + %s: %,d combined tokens, %,d and %,d own, %d never chosen%n",
                            a, b, al.size(), al.coverage(0), al.coverage(1), vetoed);
                }));
            }
        }
        return tests.stream();
    }

    /**
     * deepseek-coder has no tokens for the bytes 0xc0, 0xc1 and 0xf5-0xff, which the others have: those tokens
     * are never chosen (no member's row gives them probability), and everything else mixes.
     */
    @Test
    void deepseekCoderAlignsWithLlamaBpeAndQwen2() {
        for (String other : List.of("llama-bpe", "qwen2")) {
            VocabAlignment al = align("deepseek-coder", other);
            assertFalse(al.isIdentity());
            int c0 = -1;
            for (int id = 0; id < vocab(other).size() && c0 < 0; id++) {
                byte[] p = PIECES.get(other)[id];
                c0 = p.length == 1 && (p[0] & 0xff) == 0xc0 ? id : -1;
            }
            assertTrue(c0 >= 0, other + " has a token for the byte 0xc0");
            int u = al.unionId(1, c0);
            assertEquals(-1, al.memberId(0, u), "deepseek-coder has no token for the byte 0xc0");
            assertTrue(al.isVetoed(u));
            assertThrows(IllegalArgumentException.class, () -> al.feed(0, u));

            float[][] rows = new float[2][al.size()];
            try (Arena arena = Arena.ofConfined()) {
                for (int k = 0; k < 2; k++) {
                    MemorySegment logits = arena.allocate(ValueLayout.JAVA_FLOAT, al.members() == 2
                            ? vocab(k == 0 ? "deepseek-coder" : other).size() : 0);
                    al.gather(k, logits, rows[k], true);
                    assertEquals(Float.NEGATIVE_INFINITY, rows[k][u], "member " + k + " gives 0xc0 no probability");
                }
            }
            int space = al.unionId(1, vocab(other).tokenize(" ", false, false)[0]);
            assertEquals(0f, rows[0][space]);
            assertEquals(0f, rows[1][space]);

            // code with non-ASCII text reaches the other member as the same bytes, in both directions
            String code = "def grüß(n):\n    return f\"héllo {n}\" # 🦙\n";
            for (int k = 0; k < 2; k++) {
                String from = k == 0 ? "deepseek-coder" : other;
                String to = k == 0 ? other : "deepseek-coder";
                ByteArrayOutputStream fed = new ByteArrayOutputStream();
                for (int id : vocab(from).tokenize(code, false, false)) {
                    fed.writeBytes(bytes(to, al.feed(1 - k, al.unionId(k, id))));
                }
                assertEquals(code, fed.toString(StandardCharsets.UTF_8), from + " -> " + to);
            }
            System.out.printf("deepseek-coder + %s: %d combined tokens never chosen%n", other,
                    checkEveryTokenSpellsTheSameBytes(al, "deepseek-coder", other));
        }
    }

    @TestFactory
    Stream<DynamicTest> wordPieceIsRefusedWithTheReason() {
        assertEquals(VocabType.WPM, vocab("bert-bge").type());
        return spellers().stream().map(other -> DynamicTest.dynamicTest("bert-bge + " + other, () -> {
            for (List<String> order : List.of(List.of("bert-bge", other), List.of(other, "bert-bge"))) {
                IncompatibleVocabularyException e = assertThrows(IncompatibleVocabularyException.class,
                        () -> align(order.get(0), order.get(1)));
                String why = e.getMessage();
                assertTrue(why.startsWith("ggml-vocab-bert-bge.gguf has a WordPiece"), why);
                assertTrue(why.contains("lower-cases"), why);
                assertTrue(why.contains("cannot be spelt in it byte for byte"), why);
                assertTrue(why.contains("ggml-vocab-" + other + ".gguf"), why);
                assertFalse(e.compatibility().compatible());
            }
        }));
    }

    /**
     * A SentencePiece vocabulary whose tokens for 'A' (its byte token and its piece) are marked unused cannot
     * spell 'A': it could not read what Llama 2 writes, so the alignment is refused naming it and the byte.
     */
    @Test
    void aVocabularyLackingAByteOfUtf8TextIsRefusedNamingTheByte(@TempDir Path dir) throws Exception {
        Path clean = TestModels.tiny();
        GgufFile g = GgufFile.read(clean);
        List<GgufValue> tokens = ((GgufValue.Array) g.metadata().get("tokenizer.ggml.tokens")).elements();
        List<GgufValue> types = new ArrayList<>(((GgufValue.Array) g.metadata().get("tokenizer.ggml.token_type")).elements());
        assertTrue(tokens.contains(new GgufValue.Str("<0x41>")), "the generated vocabulary has byte fallback");
        for (String spellsA : List.of("<0x41>", "A")) {
            int id = tokens.indexOf(new GgufValue.Str(spellsA));
            if (id >= 0) {
                types.set(id, new GgufValue.Int(GgufValueType.INT32, 5)); // llama_token_type UNUSED: no piece
            }
        }
        Path noA = Files.write(dir.resolve("no-byte-A.gguf"), new GgufMutator(Files.readAllBytes(clean), g)
                .withMetadata(m -> m.put("tokenizer.ggml.token_type", new GgufValue.Array(GgufValueType.INT32, types))));
        try (LlamaModel m = LlamaModel.load(noA, RealVocabularies.VOCAB_ONLY)) {
            for (int id = 0; id < m.vocab().size(); id++) {
                assertFalse(Arrays.equals("A".getBytes(StandardCharsets.UTF_8), m.vocab().piece(id, false)),
                        "token " + id + " is 'A'");
            }
            IncompatibleVocabularyException e = assertThrows(IncompatibleVocabularyException.class,
                    () -> VocabAlignment.of(List.of(m.vocab(), vocab("llama-spm")), Policy.ALIGN_BY_TEXT));
            String why = e.getMessage();
            assertTrue(why.startsWith("no-byte-A.gguf cannot spell the text of ggml-vocab-llama-spm.gguf's token"), why);
            assertTrue(why.contains("it has no token for the byte 0x41"), why);
        }
    }

    /** The refusal is of aligning by text: models that share the WordPiece vocabulary still mix id by id. */
    @Test
    void wordPieceMixesWithItsOwnVocabulary() {
        VocabAlignment al = align("bert-bge", "bert-bge");
        assertTrue(al.isIdentity());
        assertEquals(vocab("bert-bge").size(), al.size());
    }
}
