package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.gguf.SyntheticLlama.Architecture;
import dev.blender.nativebridge.gguf.SyntheticLlama.VocabularyKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticQwen3Test {
    @TempDir
    Path dir;

    private GgufFile write(String name, SyntheticLlama spec) throws IOException {
        Path p = dir.resolve(name);
        spec.writeTo(p);
        GgufFile g = GgufFile.read(p);
        GgufRoundTripTest.checkLayout(g);
        assertEquals(spec.fileSize(), g.fileSize());
        assertEquals(spec.parameterCount(), g.tensors().stream().mapToLong(TensorInfo::elementCount).sum());
        return g;
    }

    private static long[] dims(GgufFile g, String tensor) {
        return g.tensor(tensor).orElseThrow(() -> new AssertionError("no tensor " + tensor)).dims();
    }

    @Test
    void qwen3HasItsMetadataAndPerHeadQueryKeyNorms() throws IOException {
        // Qwen3-0.6B's proportions scaled down: the heads together are twice as wide as the model
        SyntheticLlama spec = SyntheticLlama.builder().architecture(Architecture.QWEN3)
                .vocabulary(VocabularyKind.BYTE_LEVEL_BPE).embeddingLength(64).heads(4).kvHeads(2).headDim(32)
                .feedForwardLength(192).layers(2).contextLength(512).build();
        assertEquals("synthetic-qwen3", spec.name());
        assertEquals(32, spec.headDim());
        GgufFile g = write("q.gguf", spec);
        assertEquals("qwen3", g.architecture().orElseThrow());
        assertEquals("synthetic-qwen3", g.string("general.name").orElseThrow());
        Map<String, Long> ints = Map.of("qwen3.context_length", 512L, "qwen3.embedding_length", 64L,
                "qwen3.block_count", 2L, "qwen3.feed_forward_length", 192L, "qwen3.attention.head_count", 4L,
                "qwen3.attention.head_count_kv", 2L, "qwen3.attention.key_length", 32L,
                "qwen3.attention.value_length", 32L);
        ints.forEach((k, v) -> assertEquals(v, g.integer(k).orElseThrow(() -> new AssertionError(k)), k));
        assertEquals(1e6, g.real("qwen3.rope.freq_base").orElseThrow());
        assertEquals(1e-6f, (float) g.real("qwen3.attention.layer_norm_rms_epsilon").orElseThrow());
        assertTrue(g.metadata().keySet().stream().noneMatch(k -> k.startsWith("llama.")), "no llama.* keys");
        assertEquals("gpt2", g.string("tokenizer.ggml.model").orElseThrow());

        List<String> block0 = List.of("blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.attn_q_norm.weight",
                "blk.0.attn_k_norm.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight",
                "blk.0.ffn_down.weight");
        assertEquals(block0, g.tensors().subList(3, 14).stream().map(TensorInfo::name).toList());
        assertEquals(3 + 2 * 11, g.tensors().size());
        // shapes as llama.cpp's qwen3 loader creates them, ne[0] first
        assertArrayEquals(new long[] {64, 512}, dims(g, "token_embd.weight"));
        assertArrayEquals(new long[] {64, 512}, dims(g, "output.weight"));
        assertArrayEquals(new long[] {64}, dims(g, "output_norm.weight"));
        assertArrayEquals(new long[] {64}, dims(g, "blk.1.attn_norm.weight"));
        assertArrayEquals(new long[] {64, 4 * 32}, dims(g, "blk.1.attn_q.weight"));
        assertArrayEquals(new long[] {64, 2 * 32}, dims(g, "blk.1.attn_k.weight"));
        assertArrayEquals(new long[] {64, 2 * 32}, dims(g, "blk.1.attn_v.weight"));
        assertArrayEquals(new long[] {4 * 32, 64}, dims(g, "blk.1.attn_output.weight"));
        assertArrayEquals(new long[] {32}, dims(g, "blk.1.attn_q_norm.weight"));
        assertArrayEquals(new long[] {32}, dims(g, "blk.1.attn_k_norm.weight"));
        assertArrayEquals(new long[] {64, 192}, dims(g, "blk.1.ffn_gate.weight"));
        assertArrayEquals(new long[] {64, 192}, dims(g, "blk.1.ffn_up.weight"));
        assertArrayEquals(new long[] {192, 64}, dims(g, "blk.1.ffn_down.weight"));
        assertEquals(GgmlType.F32, g.tensor("blk.1.attn_k_norm.weight").orElseThrow().type());
        assertEquals(2L * 64 * 512 + 64 + 2 * (2 * 64 + 2 * 32 + 2L * 64 * 128 + 2L * 64 * 64 + 3L * 64 * 192),
                spec.parameterCount());
    }

    @Test
    void sameSpecGivesIdenticalBytesAndWeightsDoNotDependOnTheVocabulary() throws IOException {
        UnaryOperator<SyntheticLlama.Builder> opts = b -> b.architecture(Architecture.QWEN3).layers(1)
                .tensorType(GgmlType.Q8_0).weightSeed(3).vocabularySeed(4);
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        opts.apply(SyntheticLlama.builder()).build().writeTo(a);
        opts.apply(SyntheticLlama.builder()).build().writeTo(b);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));

        // qwen3 with the SentencePiece vocabulary is allowed too, and only the tokenizer differs
        GgufFile spm = write("spm.gguf", opts.apply(SyntheticLlama.builder()).build());
        GgufFile bpe = write("bpe.gguf", opts.apply(SyntheticLlama.builder())
                .vocabulary(VocabularyKind.BYTE_LEVEL_BPE).build());
        assertEquals("llama", spm.string("tokenizer.ggml.model").orElseThrow());
        assertEquals("gpt2", bpe.string("tokenizer.ggml.model").orElseThrow());
        assertEquals(spm.tensors(), bpe.tensors());
        assertEquals(16, spm.integer("qwen3.attention.key_length").orElseThrow(), "default head size written");
    }

    @Test
    void llamaWritesHeadSizeKeysOnlyWhenItDiffersFromTheDefault() throws IOException {
        GgufFile plain = write("plain.gguf", SyntheticLlama.builder().headDim(16).build());
        assertTrue(plain.value("llama.attention.key_length").isEmpty(), "64 / 4 heads is already 16");
        GgufFile wide = write("wide.gguf", SyntheticLlama.builder().headDim(32).build());
        assertEquals(32, wide.integer("llama.attention.key_length").orElseThrow());
        assertEquals(32, wide.integer("llama.attention.value_length").orElseThrow());
        assertEquals(32, wide.integer("llama.rope.dimension_count").orElseThrow());
        assertArrayEquals(new long[] {64, 128}, dims(wide, "blk.0.attn_q.weight"));
        assertArrayEquals(new long[] {128, 64}, dims(wide, "blk.0.attn_output.weight"));
        assertTrue(wide.tensor("blk.0.attn_q_norm.weight").isEmpty(), "llama has no query/key norms");
        assertEquals("synthetic-llama", wide.string("general.name").orElseThrow());
    }

    @Test
    void invalidHeadOptionsNameTheOption() {
        Map<String, UnaryOperator<SyntheticLlama.Builder>> cases = Map.of(
                "headDim", b -> b.headDim(15),
                "headDim x heads", b -> b.tensorType(GgmlType.Q4_0).heads(3).headDim(10).embeddingLength(64),
                "architecture", b -> b.architecture(null),
                "vocabulary", b -> b.vocabulary(null),
                "name", b -> b.architecture(Architecture.QWEN3).name(null));
        cases.forEach((option, edit) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> edit.apply(SyntheticLlama.builder()).build(), option);
            assertTrue(e.getMessage().contains(option), option + ": " + e.getMessage());
        });
        // an explicit head size frees the width from being a multiple of the head count
        assertEquals(3, SyntheticLlama.builder().embeddingLength(64).heads(3).headDim(16).build().heads());
    }
}
