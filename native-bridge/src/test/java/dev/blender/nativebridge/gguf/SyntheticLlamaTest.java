package dev.blender.nativebridge.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticLlamaTest {
    @TempDir
    Path dir;

    private static String sha256(Path p) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private Path write(String name, SyntheticLlama spec) throws IOException {
        Path p = dir.resolve(name);
        spec.writeTo(p);
        return p;
    }

    private static Map<String, GgufValue> tokenizerMetadata(GgufFile g) {
        return g.metadata().entrySet().stream().filter(e -> e.getKey().startsWith("tokenizer."))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    @Test
    void defaultModelHasLlamaMetadataAndTensors() throws IOException {
        SyntheticLlama spec = SyntheticLlama.builder().chatTemplate("{{ messages }}").name("tiny").build();
        Path p = write("tiny.gguf", spec);
        GgufFile g = GgufFile.read(p);
        assertEquals("llama", g.architecture().orElseThrow());
        assertEquals("tiny", g.string("general.name").orElseThrow());
        assertEquals(0, g.integer("general.file_type").orElseThrow());
        assertEquals(256, g.integer("llama.context_length").orElseThrow());
        assertEquals(64, g.integer("llama.embedding_length").orElseThrow());
        assertEquals(2, g.integer("llama.block_count").orElseThrow());
        assertEquals(256, g.integer("llama.feed_forward_length").orElseThrow());
        assertEquals(4, g.integer("llama.attention.head_count").orElseThrow());
        assertEquals(4, g.integer("llama.attention.head_count_kv").orElseThrow());
        assertEquals(16, g.integer("llama.rope.dimension_count").orElseThrow());
        assertEquals(1e-5f, (float) g.real("llama.attention.layer_norm_rms_epsilon").orElseThrow());
        assertEquals(512, g.integer("llama.vocab_size").orElseThrow());
        assertEquals("llama", g.string("tokenizer.ggml.model").orElseThrow());
        assertEquals(1, g.integer("tokenizer.ggml.bos_token_id").orElseThrow());
        assertEquals(2, g.integer("tokenizer.ggml.eos_token_id").orElseThrow());
        assertEquals(0, g.integer("tokenizer.ggml.unknown_token_id").orElseThrow());
        assertEquals(true, g.bool("tokenizer.ggml.add_bos_token").orElseThrow());
        assertEquals(false, g.bool("tokenizer.ggml.add_eos_token").orElseThrow());
        assertEquals("{{ messages }}", g.string("tokenizer.chat_template").orElseThrow());

        List<String> tokens = g.stringArray("tokenizer.ggml.tokens");
        assertEquals(spec.tokens(), tokens);
        assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), tokens.subList(0, 4));
        assertEquals("<0xFF>", tokens.get(258));
        assertEquals("\u2581", tokens.get(259));
        long[] types = g.intArray("tokenizer.ggml.token_type");
        double[] scores = g.floatArray("tokenizer.ggml.scores");
        assertEquals(GgufValueType.INT32, ((GgufValue.Array) g.value("tokenizer.ggml.token_type").orElseThrow())
                .elementType());
        assertArrayEquals(new long[] {2, 3, 3, 6}, Arrays.copyOf(types, 4));
        assertEquals(6, types[258]);
        assertEquals(1, types[259]);
        assertEquals(0.0, scores[100]);
        for (int i = 260; i < 512; i++) {
            assertTrue(scores[i] < scores[i - 1], "scores decrease for normal tokens");
        }

        List<String> expectedNames = List.of("token_embd.weight", "output_norm.weight", "output.weight",
                "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
                "blk.0.ffn_up.weight", "blk.0.ffn_down.weight");
        assertEquals(expectedNames, g.tensors().subList(0, 12).stream().map(TensorInfo::name).toList());
        assertEquals(3 + 2 * 9, g.tensors().size());
        assertArrayEquals(new long[] {64, 512}, g.tensor("token_embd.weight").orElseThrow().dims());
        assertArrayEquals(new long[] {256, 64}, g.tensor("blk.1.ffn_down.weight").orElseThrow().dims());
        assertArrayEquals(new long[] {64}, g.tensor("blk.1.ffn_norm.weight").orElseThrow().dims());
        long params = g.tensors().stream().mapToLong(TensorInfo::elementCount).sum();
        assertEquals(spec.parameterCount(), params);
        assertEquals(2L * 64 * 512 + 64 + 2 * (2 * 64 + 4L * 64 * 64 + 3L * 64 * 256), params);
        assertEquals(spec.fileSize(), g.fileSize());
        GgufRoundTripTest.checkLayout(g);

        byte[] bytes = Files.readAllBytes(p);
        ByteBuffer data = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        TensorInfo norm = g.tensor("output_norm.weight").orElseThrow();
        assertEquals(1f, data.getFloat((int) g.absoluteOffset(norm) + 4 * 63));
        // the weights should look like the requested Gaussian, not constants
        TensorInfo embd = g.tensor("token_embd.weight").orElseThrow();
        double sum = 0;
        double sq = 0;
        int n = 64 * 512;
        for (int i = 0; i < n; i++) {
            double v = data.getFloat((int) g.absoluteOffset(embd) + 4 * i);
            sum += v;
            sq += v * v;
        }
        double std = Math.sqrt(sq / n - (sum / n) * (sum / n));
        assertTrue(std > 0.08 && std < 0.12, "token_embd std " + std);
    }

    @Test
    void sameSpecGivesIdenticalBytes() throws IOException {
        UnaryOperator<SyntheticLlama.Builder> opts = b -> b.vocabSize(600).layers(1).weightSeed(5).vocabularySeed(9);
        Path a = write("a.gguf", opts.apply(SyntheticLlama.builder()).build());
        Path b = write("b.gguf", opts.apply(SyntheticLlama.builder()).build());
        assertEquals(sha256(a), sha256(b));
    }

    @Test
    void anotherWeightSeedOfASpecWritesWhatTheBuilderWrites() throws IOException {
        UnaryOperator<SyntheticLlama.Builder> opts = b -> b.vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                .vocabSize(700).layers(1).vocabularySeed(4);
        SyntheticLlama base = opts.apply(SyntheticLlama.builder()).weightSeed(1).name("first").build();
        SyntheticLlama other = base.withWeights(7, "second");
        Path a = write("built.gguf", opts.apply(SyntheticLlama.builder()).weightSeed(7).name("second").build());
        Path b = write("derived.gguf", other);
        assertEquals(sha256(a), sha256(b));
        assertEquals(Files.size(b), other.fileSize());
        assertThrows(IllegalArgumentException.class, () -> base.withWeights(2, " "));
    }

    @Test
    void weightSeedChangesWeightsOnly() throws IOException {
        GgufFile a = GgufFile.read(write("w1.gguf", SyntheticLlama.builder().weightSeed(1).build()));
        GgufFile b = GgufFile.read(write("w2.gguf", SyntheticLlama.builder().weightSeed(2).build()));
        assertNotEquals(sha256(a.path()), sha256(b.path()));
        assertEquals(a.metadata(), b.metadata());
        assertEquals(tokenizerMetadata(a), tokenizerMetadata(b));
        assertEquals(a.tensors(), b.tensors());
    }

    @Test
    void vocabularySeedChangesTokenTextButNotSize() throws IOException {
        SyntheticLlama a = SyntheticLlama.builder().vocabularySeed(0).build();
        SyntheticLlama b = SyntheticLlama.builder().vocabularySeed(1).build();
        SyntheticLlama c = SyntheticLlama.builder().vocabularySeed(2).build();
        assertEquals(a.tokens().size(), b.tokens().size());
        assertEquals(a.tokens().subList(0, 259 + 100), b.tokens().subList(0, 259 + 100), "common head kept");
        int differing = 0;
        for (int i = 5; i < a.vocabSize(); i++) {
            if (!a.tokens().get(i).equals(b.tokens().get(i))) {
                differing++;
            }
        }
        assertTrue(differing > 100, "only " + differing + " ids differ");
        assertNotEquals(b.tokens(), c.tokens());
        assertEquals(512, new HashSet<>(b.tokens()).size(), "tokens unique");

        GgufFile fa = GgufFile.read(write("va.gguf", a));
        GgufFile fb = GgufFile.read(write("vb.gguf", b));
        assertEquals(fa.integer("llama.vocab_size"), fb.integer("llama.vocab_size"));
        assertEquals(fa.tensors(), fb.tensors());
        assertEquals(b.tokens(), fb.stringArray("tokenizer.ggml.tokens"));

        SyntheticLlama small = SyntheticLlama.builder().vocabSize(SyntheticLlama.MIN_VOCAB_SIZE).build();
        SyntheticLlama smallOther = SyntheticLlama.builder().vocabSize(SyntheticLlama.MIN_VOCAB_SIZE)
                .vocabularySeed(3).build();
        assertNotEquals(small.tokens(), smallOther.tokens(), "even the smallest vocabulary varies with the seed");
    }

    @Test
    void qwenSizedVocabularyIsUniqueAndReadsBack() throws IOException {
        // how long this takes is a benchmark's business, not a unit test's (these machines are shared)
        SyntheticLlama spec = SyntheticLlama.builder().vocabSize(151_936).vocabularySeed(11)
                .embeddingLength(32).heads(2).layers(1).tensorType(GgmlType.Q4_0).build();
        List<String> tokens = spec.tokens();
        assertEquals(151_936, tokens.size());
        Set<String> unique = new HashSet<>(tokens);
        assertEquals(tokens.size(), unique.size(), "all tokens unique");

        GgufFile g = GgufFile.read(write("qwen-vocab.gguf", spec));
        assertEquals(tokens, g.stringArray("tokenizer.ggml.tokens"));
        assertEquals(2, g.integer("general.file_type").orElseThrow());
        assertEquals(GgmlType.Q4_0, g.tensor("output.weight").orElseThrow().type());
        assertEquals(GgmlType.F32, g.tensor("output_norm.weight").orElseThrow().type());
    }

    @Test
    void everyTensorTypeWritesAReadableModel() throws IOException {
        for (GgmlType type : List.of(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0)) {
            SyntheticLlama spec = SyntheticLlama.builder().tensorType(type).kvHeads(2).layers(1).build();
            GgufFile g = GgufFile.read(write(type + ".gguf", spec));
            assertEquals(type, g.tensor("blk.0.attn_q.weight").orElseThrow().type());
            assertEquals(GgmlType.F32, g.tensor("blk.0.attn_norm.weight").orElseThrow().type());
            assertArrayEquals(new long[] {64, 32}, g.tensor("blk.0.attn_k.weight").orElseThrow().dims());
            assertEquals(spec.fileSize(), g.fileSize());
            GgufRoundTripTest.checkLayout(g);
        }
    }

    @Test
    void invalidOptionsNameTheOption() {
        Map<String, UnaryOperator<SyntheticLlama.Builder>> cases = Map.ofEntries(
                Map.entry("vocabSize", b -> b.vocabSize(100)),
                Map.entry("layers", b -> b.layers(0)),
                Map.entry("heads", b -> b.heads(0)),
                Map.entry("embeddingLength", b -> b.embeddingLength(66)),
                Map.entry("kvHeads", b -> b.kvHeads(3)),
                Map.entry("feedForwardLength", b -> b.tensorType(GgmlType.Q8_0).feedForwardLength(100)),
                Map.entry("contextLength", b -> b.contextLength(0)),
                Map.entry("tensorType", b -> b.tensorType(GgmlType.Q4_K)),
                Map.entry("name", b -> b.name(" ")));
        cases.forEach((option, edit) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> edit.apply(SyntheticLlama.builder()).build(), option);
            assertTrue(e.getMessage().contains(option), option + ": " + e.getMessage());
        });
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticLlama.builder().embeddingLength(48).tensorType(GgmlType.Q4_0).build());
        assertTrue(e.getMessage().contains("embeddingLength"), e.getMessage());
    }
}
