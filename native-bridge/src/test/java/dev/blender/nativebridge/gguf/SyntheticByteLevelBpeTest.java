package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.gguf.SyntheticLlama.VocabularyKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticByteLevelBpeTest {
    @TempDir
    Path dir;

    private static SyntheticLlama.Builder bpe() {
        return SyntheticLlama.builder().vocabulary(VocabularyKind.BYTE_LEVEL_BPE);
    }

    /** GPT-2's bytes_to_unicode, written the way the original lists it, to check the generator against. */
    private static Map<Integer, String> gpt2ByteMap() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bs.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            bs.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            bs.add(b);
        }
        List<Integer> cs = new ArrayList<>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            if (!bs.contains(b)) {
                bs.add(b);
                cs.add(256 + n++);
            }
        }
        Map<Integer, String> out = new LinkedHashMap<>();
        for (int i = 0; i < 256; i++) {
            out.put(bs.get(i), Character.toString(cs.get(i)));
        }
        return out;
    }

    /**
     * Each merge joins two tokens into a third, every ordinary piece is made by a merge, and llama.cpp's BPE
     * (reimplemented here: lowest rank first, leftmost on ties) turns each piece back into itself.
     */
    private static void checkMerges(List<String> tokens, List<String> merges) {
        Set<String> vocab = new HashSet<>(tokens);
        Set<String> made = new HashSet<>();
        Map<String, Integer> ranks = new HashMap<>();
        for (String m : merges) {
            int space = m.indexOf(' ', 1);
            assertTrue(space > 0 && m.indexOf(' ', space + 1) < 0, "one separator in merge '" + m + "'");
            String left = m.substring(0, space);
            String right = m.substring(space + 1);
            assertTrue(vocab.contains(left) && vocab.contains(right), "merge parts are tokens: " + m);
            assertTrue(vocab.contains(left + right), "merge result is a token: " + m);
            made.add(left + right);
            assertNull(ranks.put(m, ranks.size()), "duplicate merge " + m);
        }
        int normal = tokens.size() - 256 - 3;
        assertTrue(merges.size() >= normal, "at least one merge per ordinary piece");
        for (String t : tokens.subList(256, 256 + normal)) {
            assertTrue(made.contains(t), "no merge makes " + t);
            assertFalse(t.contains(" "), "byte-level tokens hold no raw space: " + t);
            assertEquals(List.of(t), bpe(t, ranks), "llama.cpp would not produce " + t + " as one token");
        }
    }

    private static List<String> bpe(String word, Map<String, Integer> ranks) {
        List<String> parts = new ArrayList<>();
        word.codePoints().forEach(c -> parts.add(Character.toString(c)));
        while (true) {
            int best = -1;
            for (int i = 0; i + 1 < parts.size(); i++) {
                Integer r = ranks.get(parts.get(i) + " " + parts.get(i + 1));
                if (r != null && (best < 0 || r < ranks.get(parts.get(best) + " " + parts.get(best + 1)))) {
                    best = i;
                }
            }
            if (best < 0) {
                return parts;
            }
            parts.set(best, parts.get(best) + parts.remove(best + 1));
        }
    }

    @Test
    void defaultSizeHasGpt2BytesMergesAndQwenSpecials() throws IOException {
        SyntheticLlama spec = bpe().build();
        assertEquals(SyntheticLlama.Architecture.LLAMA, spec.architecture());
        assertEquals(VocabularyKind.BYTE_LEVEL_BPE, spec.vocabulary());
        Path p = dir.resolve("bpe.gguf");
        spec.writeTo(p);
        GgufFile g = GgufFile.read(p);
        GgufRoundTripTest.checkLayout(g);
        assertEquals(spec.fileSize(), g.fileSize());
        assertEquals("llama", g.architecture().orElseThrow());
        assertEquals("gpt2", g.string("tokenizer.ggml.model").orElseThrow());
        assertEquals("qwen2", g.string("tokenizer.ggml.pre").orElseThrow());
        assertTrue(g.value("tokenizer.ggml.scores").isEmpty(), "BPE ranks come from merges, not scores");
        assertTrue(g.value("tokenizer.ggml.unknown_token_id").isEmpty(), "every byte is a token");

        List<String> tokens = g.stringArray("tokenizer.ggml.tokens");
        assertEquals(spec.tokens(), tokens);
        assertEquals(512, tokens.size());
        assertEquals(512, new HashSet<>(tokens).size(), "tokens unique");
        assertEquals(List.copyOf(gpt2ByteMap().values()), tokens.subList(0, 256), "GPT-2's byte tokens in its order");
        assertEquals("!", tokens.get(0));
        assertEquals("\u0120", gpt2ByteMap().get((int) ' '));
        assertEquals("\u010A", gpt2ByteMap().get((int) '\n'));
        assertTrue(tokens.contains("\u0120the") && tokens.contains("the"), "words with and without a leading Ġ");
        assertTrue(tokens.contains("\u00C3\u00A9"), "é (C3 A9) is one piece");
        assertEquals(List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"), tokens.subList(509, 512));

        List<String> merges = g.stringArray("tokenizer.ggml.merges");
        assertEquals(spec.merges(), merges);
        assertEquals("\u0120 \u0120", merges.get(0));
        checkMerges(tokens, merges);

        long[] types = g.intArray("tokenizer.ggml.token_type");
        for (int i = 0; i < 509; i++) {
            assertEquals(1, types[i], "normal (llama.cpp only spells normal BPE tokens), id " + i);
        }
        assertArrayEquals(new long[] {3, 3, 3}, Arrays.copyOfRange(types, 509, 512), "specials are control");
        assertEquals(509, g.integer("tokenizer.ggml.bos_token_id").orElseThrow());
        assertEquals(511, g.integer("tokenizer.ggml.eos_token_id").orElseThrow());
        assertEquals(509, g.integer("tokenizer.ggml.padding_token_id").orElseThrow());
        assertEquals(false, g.bool("tokenizer.ggml.add_bos_token").orElseThrow());
        assertEquals(false, g.bool("tokenizer.ggml.add_eos_token").orElseThrow());
        // the model half is untouched by the vocabulary kind
        GgufFile spm = GgufFile.read(write("spm.gguf", SyntheticLlama.builder().build()));
        assertEquals(spm.tensors(), g.tensors());
    }

    private Path write(String name, SyntheticLlama spec) throws IOException {
        Path p = dir.resolve(name);
        spec.writeTo(p);
        return p;
    }

    @Test
    void smallestVocabularyStillHoldsAllBytesAndSpecials() {
        SyntheticLlama spec = bpe().vocabSize(SyntheticLlama.MIN_VOCAB_SIZE).build();
        List<String> tokens = spec.tokens();
        assertEquals(SyntheticLlama.MIN_VOCAB_SIZE, tokens.size());
        assertEquals(new HashSet<>(gpt2ByteMap().values()), new HashSet<>(tokens.subList(0, 256)));
        assertEquals("<|im_end|>", tokens.getLast());
        checkMerges(tokens, spec.merges());
    }

    @Test
    void qwenSizedVocabularyIsQuickUniqueAndDeterministic() throws IOException {
        // CPU time, not wall time: the build machine is shared and a busy one would fail a wall-clock bound
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long start = threads.getCurrentThreadCpuTime();
        SyntheticLlama.Builder b = bpe().vocabSize(151_936).vocabularySeed(11).embeddingLength(32).heads(2)
                .layers(1).tensorType(GgmlType.Q4_0);
        SyntheticLlama spec = b.build();
        long millis = (threads.getCurrentThreadCpuTime() - start) / 1_000_000;
        assertTrue(millis < 2000, "generating a 152k BPE vocabulary took " + millis + " ms of CPU");
        List<String> tokens = spec.tokens();
        assertEquals(151_936, tokens.size());
        assertEquals(tokens.size(), new HashSet<>(tokens).size(), "all tokens unique");
        checkMerges(tokens, spec.merges());
        assertEquals("<|endoftext|>", tokens.get(151_933));

        Path a = write("a.gguf", spec);
        Path c = write("c.gguf", b.build());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(c), "same spec, same bytes");
        GgufFile g = GgufFile.read(a);
        assertEquals(tokens, g.stringArray("tokenizer.ggml.tokens"));
        assertEquals(spec.merges(), g.stringArray("tokenizer.ggml.merges"));
        assertEquals(151_936, g.intArray("tokenizer.ggml.token_type").length);
    }

    @Test
    void vocabularySeedRenumbersPiecesButKeepsMerges() {
        SyntheticLlama a = bpe().build();
        SyntheticLlama b = bpe().vocabularySeed(1).build();
        SyntheticLlama c = bpe().vocabularySeed(2).build();
        assertEquals(a.tokens().subList(0, 256 + 100), b.tokens().subList(0, 256 + 100), "bytes and common head kept");
        assertEquals(a.tokens().subList(509, 512), b.tokens().subList(509, 512), "specials keep their ids");
        int differing = 0;
        for (int i = 0; i < 512; i++) {
            if (!a.tokens().get(i).equals(b.tokens().get(i))) {
                differing++;
            }
        }
        assertTrue(differing > 100, "only " + differing + " ids differ");
        assertNotEquals(b.tokens(), c.tokens());
        assertEquals(new HashSet<>(a.tokens()), new HashSet<>(b.tokens()), "same pieces");
        assertEquals(a.merges(), b.merges(), "same merges, so text splits the same way");
        checkMerges(b.tokens(), b.merges());
    }

    @Test
    void encodeRenamesEachUtf8Byte() {
        assertEquals("h\u00C3\u00A9llo\u0120w\u00C3\u00B6rld\u010A\u00F0\u0141\u013B\u0124",
                SyntheticBpeVocabulary.encode("h\u00E9llo w\u00F6rld\n\uD83D\uDE42"));
        for (Map.Entry<Integer, String> e : gpt2ByteMap().entrySet()) {
            assertEquals(e.getValue(), String.valueOf(SyntheticBpeVocabulary.byteToChar(e.getKey())));
        }
    }
}
