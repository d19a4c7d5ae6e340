package dev.blender.runtime.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelMergerTest {
    @TempDir
    static Path models;
    static Path a;
    static Path b;
    static Path c;

    /** Three tiny llamas of one shape and vocabulary with different weights. */
    @BeforeAll
    static void writeModels() throws IOException {
        a = write("a", SyntheticLlama.builder().weightSeed(1).name("a"));
        b = write("b", SyntheticLlama.builder().weightSeed(2).name("b"));
        c = write("c", SyntheticLlama.builder().weightSeed(3).name("c"));
    }

    static Path write(String name, SyntheticLlama.Builder spec) throws IOException {
        Path p = models.resolve(name + ".gguf");
        spec.build().writeTo(p);
        return p;
    }

    static void assertSameTensors(Path expected, Path actual) throws IOException {
        GgufFile e = GgufFile.read(expected);
        GgufFile g = GgufFile.read(actual);
        assertEquals(e.tensors().stream().map(TensorInfo::name).toList(), g.tensors().stream().map(TensorInfo::name).toList());
        for (TensorInfo t : e.tensors()) {
            assertArrayEquals(ModelMerger.readTensor(e, t.name()), ModelMerger.readTensor(g, t.name()), 0f, t.name());
        }
    }

    @Test
    void linearOfAModelWithItselfIsThatModel(@TempDir Path out) throws IOException {
        Path merged = out.resolve("soup.gguf");
        List<String> progress = new ArrayList<>();
        MergeResult r = ModelMerger.merge(MergeOptions.builder(MergeMethod.LINEAR).model(a).model(a).build(), merged,
                (done, total, tensor) -> progress.add(done + "/" + total));
        assertSameTensors(a, merged);
        int tensors = GgufFile.read(a).tensors().size();
        assertEquals(tensors, r.tensors());
        assertEquals(tensors, progress.size());
        assertEquals(tensors + "/" + tensors, progress.getLast());
        assertEquals(Files.size(merged), r.bytes());
    }

    @Test
    void taskArithmeticAtLambdaZeroIsTheBase(@TempDir Path out) throws IOException {
        Path merged = out.resolve("ta0.gguf");
        ModelMerger.merge(MergeOptions.builder(MergeMethod.TASK_ARITHMETIC).base(a).model(b).model(c).lambda(0).build(),
                merged);
        assertSameTensors(a, merged);
    }

    @Test
    void everyTensorFollowsTheKernelsIncludingNormsAndEmbeddings(@TempDir Path out) throws IOException {
        GgufFile base = GgufFile.read(a);
        GgufFile[] ms = {GgufFile.read(b), GgufFile.read(c)};
        for (MergeMethod method : MergeMethod.values()) {
            Path merged = out.resolve(method.cliName() + ".gguf");
            MergeOptions o = MergeOptions.builder(method).base(a).model(b).model(c).lambda(0.7).density(0.2)
                    .drop(0.3).seed(5).build();
            ModelMerger.merge(o, merged);
            GgufFile got = GgufFile.read(merged);
            for (String name : List.of("token_embd.weight", "blk.1.ffn_norm.weight", "blk.0.attn_q.weight")) {
                float[] b0 = ModelMerger.readTensor(base, name);
                float[][] m = {ModelMerger.readTensor(ms[0], name), ModelMerger.readTensor(ms[1], name)};
                float[] expected = switch (method) {
                    case LINEAR -> MergeKernels.linear(m);
                    case TASK_ARITHMETIC -> MergeKernels.taskArithmetic(b0, m, 0.7);
                    case TIES -> MergeKernels.ties(b0, m, 0.2, 0.7);
                    case DARE -> null;
                };
                float[] actual = ModelMerger.readTensor(got, name);
                if (expected != null) {
                    assertArrayEquals(expected, actual, 0f, method + " " + name);
                } else {
                    // every entry is the base, or the base plus a survivor scaled by 1 / (1 - 0.3)
                    float scale = (float) (1 / (1 - 0.3));
                    for (int j = 0; j < actual.length; j++) {
                        float t0 = (m[0][j] - b0[j]) * scale;
                        float t1 = (m[1][j] - b0[j]) * scale;
                        float sum = actual[j];
                        boolean some = false;
                        for (float s : new float[] {0, t0, t1, t0 + t1}) {
                            some |= sum == b0[j] + 0.7f * s;
                        }
                        assertTrue(some, method + " " + name + " entry " + j);
                    }
                }
                assertFalse(ModelMerger.readTensor(ms[0], name).length == 0);
            }
        }
    }

    @Test
    void dareIsReproducibleBySeed(@TempDir Path out) throws IOException {
        MergeOptions.Builder o = MergeOptions.builder(MergeMethod.DARE).base(a).model(b).drop(0.5);
        Path one = out.resolve("one.gguf");
        Path two = out.resolve("two.gguf");
        Path other = out.resolve("other.gguf");
        ModelMerger.merge(o.seed(1).build(), one);
        ModelMerger.merge(o.seed(1).build(), two);
        ModelMerger.merge(o.seed(2).build(), other);
        assertSameTensors(one, two);
        String name = "blk.0.attn_k.weight";
        assertFalse(java.util.Arrays.equals(ModelMerger.readTensor(GgufFile.read(one), name),
                ModelMerger.readTensor(GgufFile.read(other), name)));
        // about half the entries keep the base's value
        float[] base = ModelMerger.readTensor(GgufFile.read(a), name);
        float[] merged = ModelMerger.readTensor(GgufFile.read(one), name);
        int unchanged = 0;
        for (int j = 0; j < base.length; j++) {
            unchanged += base[j] == merged[j] ? 1 : 0;
        }
        assertEquals(0.5, unchanged / (double) base.length, 0.05);
    }

    @Test
    void theOutputRecordsItsProvenance(@TempDir Path out) throws Exception {
        Path merged = out.resolve("ties.gguf");
        MergeResult r = ModelMerger.merge(MergeOptions.builder(MergeMethod.TIES).base(a).model(b).model(c)
                .density(0.3).lambda(0.9).build(), merged);
        GgufFile g = GgufFile.read(merged);
        GgufFile ref = GgufFile.read(a);
        assertEquals("ties merge of b + c (base: a)", g.string("general.name").orElseThrow());
        assertEquals("ties", g.string("blender.merge.method").orElseThrow());
        assertEquals(0.9, g.real("blender.merge.lambda").orElseThrow());
        assertEquals(0.3, g.real("blender.merge.density").orElseThrow());
        assertTrue(g.value("blender.merge.drop").isEmpty(), "only the parameters the method used");
        assertTrue(g.value("blender.merge.seed").isEmpty());
        assertEquals("a.gguf", g.string("blender.merge.base").orElseThrow());
        assertEquals(List.of("a.gguf", "b.gguf", "c.gguf"), g.stringArray("blender.merge.inputs"));
        List<String> hashes = new ArrayList<>();
        for (Path p : List.of(a, b, c)) {
            hashes.add(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
        }
        assertEquals(hashes, g.stringArray("blender.merge.sha256"));
        assertEquals(hashes, r.sha256());
        // everything else is the base's
        assertEquals(ref.stringArray("tokenizer.ggml.tokens"), g.stringArray("tokenizer.ggml.tokens"));
        assertEquals(ref.integer("llama.block_count"), g.integer("llama.block_count"));
        assertEquals(0, g.integer("general.file_type").orElseThrow());
    }

    @Test
    void mismatchedInputsAreRefusedNamingTheFirstDifference(@TempDir Path out) throws IOException {
        Path narrow = write("narrow", SyntheticLlama.builder().weightSeed(4).embeddingLength(32).heads(2)
                .feedForwardLength(128));
        Path words = write("words", SyntheticLlama.builder().weightSeed(4).vocabularySeed(9));
        Path qwen = write("qwen", SyntheticLlama.builder().weightSeed(4).architecture(SyntheticLlama.Architecture.QWEN3));
        Path merged = out.resolve("m.gguf");

        String shape = refusal(MergeOptions.builder(MergeMethod.LINEAR).model(a).model(narrow).build(), merged);
        assertTrue(shape.contains("tensor 'token_embd.weight' has shape [64, 512] in a.gguf but [32, 512] in narrow.gguf"),
                shape);
        String vocab = refusal(MergeOptions.builder(MergeMethod.TASK_ARITHMETIC).base(a).model(words).build(), merged);
        assertTrue(vocab.contains("the vocabularies differ, token"), vocab);
        String arch = refusal(MergeOptions.builder(MergeMethod.LINEAR).model(a).model(qwen).build(), merged);
        assertTrue(arch.contains("the architecture is llama in a.gguf but qwen3 in qwen.gguf"), arch);
        String missing = refusal(MergeOptions.builder(MergeMethod.LINEAR).model(a)
                .model(write("deeper", SyntheticLlama.builder().weightSeed(4).layers(3))).build(), merged);
        assertTrue(missing.contains("tensor 'blk.2.attn_norm.weight' is in deeper.gguf but not in a.gguf"), missing);
        assertFalse(Files.exists(merged), "nothing is written for refused inputs");
    }

    @Test
    void theArithAnswerersOfDifferentWidthsAreRefused(@TempDir Path out) {
        Path answererA = TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path answererB = TestModels.sharedFile("models/arith/answerer-b.gguf");
        String m = refusal(MergeOptions.builder(MergeMethod.LINEAR).model(answererA).model(answererB).build(),
                out.resolve("m.gguf"));
        assertTrue(m.contains("tensor 'token_embd.weight' has shape [64, ") && m.contains("[48, "), m);
    }

    @Test
    void optionsAndOutputsAreCheckedNamingTheFlag(@TempDir Path out) throws IOException {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> MergeOptions.builder(MergeMethod.TIES).model(a).build()).getMessage().startsWith("--base"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> MergeOptions.builder(MergeMethod.TASK_ARITHMETIC).base(a).model(b).lambda(Double.NaN).build())
                .getMessage().startsWith("--lambda"));
        for (double d : new double[] {0, -0.1, 1.5, Double.NaN}) {
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> MergeOptions.builder(MergeMethod.TIES).base(a).model(b).density(d).build())
                    .getMessage().startsWith("--density"));
        }
        for (double p : new double[] {1, -0.1, Double.NaN}) {
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> MergeOptions.builder(MergeMethod.DARE).base(a).model(b).drop(p).build())
                    .getMessage().startsWith("--drop"));
        }
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> MergeOptions.builder(MergeMethod.LINEAR).model(a).type(GgmlType.Q4_K).build())
                .getMessage().startsWith("--type"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MergeOptions.parseType("q5_1"))
                .getMessage().startsWith("--type"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MergeMethod.parse("soup"))
                .getMessage().startsWith("--method"));
        assertEquals(MergeMethod.TASK_ARITHMETIC, MergeMethod.parse("TASK_ARITHMETIC"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MergeOptions.builder(MergeMethod.LINEAR).build())
                .getMessage().startsWith("-m"));
        // a linear soup may name a base: it supplies the metadata, not a term of the mean
        Path soup = out.resolve("soup.gguf");
        ModelMerger.merge(MergeOptions.builder(MergeMethod.LINEAR).base(c).model(a).model(a).build(), soup);
        assertSameTensors(a, soup);
        assertEquals("linear merge of a + a (base: c)", GgufFile.read(soup).string("general.name").orElseThrow());

        Path copy = out.resolve("b-copy.gguf");
        Files.copy(b, copy);
        long before = Files.size(copy);
        byte[] bytes = Files.readAllBytes(copy);
        String m = refusal(MergeOptions.builder(MergeMethod.TASK_ARITHMETIC).base(a).model(copy).build(), copy);
        assertTrue(m.contains("is one of the inputs"), m);
        assertEquals(before, Files.size(copy));
        assertArrayEquals(bytes, Files.readAllBytes(copy));
    }

    @Test
    void quantisedOutputKeepsNormsInF32AndLoadsInLlamaCpp(@TempDir Path out) throws IOException {
        Path q8in = write("a-q8", SyntheticLlama.builder().weightSeed(1).tensorType(GgmlType.Q8_0));
        for (GgmlType type : List.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.F16)) {
            Path merged = out.resolve("soup-" + type + ".gguf");
            // a quantised input is dequantised: q8_0 a and f32 b merge
            ModelMerger.merge(MergeOptions.builder(MergeMethod.LINEAR).model(q8in).model(b).type(type).build(), merged);
            GgufFile g = GgufFile.read(merged);
            for (TensorInfo t : g.tensors()) {
                assertEquals(t.rank() == 1 ? GgmlType.F32 : type, t.type(), t.name());
            }
            assertEquals(switch (type) {
                case Q8_0 -> 7;
                case Q4_0 -> 2;
                default -> 1;
            }, g.integer("general.file_type").orElseThrow());
            try (LlamaModel m = LlamaModel.load(merged);
                    LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
                Candidate cand = Generator.generate(ctx, GenerationRequest.of(m.vocab().tokenize("once upon"))
                        .withMaxTokens(4)).get(0);
                assertTrue(cand.tokenCount() > 0, type + " generated nothing");
            }
        }
        // q8_0 merged values are within q8_0's rounding of the f32 merge
        Path f32 = out.resolve("soup-f32.gguf");
        ModelMerger.merge(MergeOptions.builder(MergeMethod.LINEAR).model(q8in).model(b).build(), f32);
        float[] exact = ModelMerger.readTensor(GgufFile.read(f32), "blk.0.ffn_up.weight");
        float[] q8 = ModelMerger.readTensor(GgufFile.read(out.resolve("soup-Q8_0.gguf")), "blk.0.ffn_up.weight");
        float worst = 0;
        for (int j = 0; j < exact.length; j++) {
            worst = Math.max(worst, Math.abs(exact[j] - q8[j]));
        }
        assertTrue(worst > 0 && worst < 0.005, "worst error " + worst);
    }

    private static String refusal(MergeOptions o, Path out) {
        return assertThrows(IllegalArgumentException.class, () -> ModelMerger.merge(o, out)).getMessage();
    }
}
