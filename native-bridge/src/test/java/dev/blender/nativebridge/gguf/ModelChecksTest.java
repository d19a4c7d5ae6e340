package dev.blender.nativebridge.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.GgufFormatException.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The mutations {@link GgufFuzzTest} found to abort the process in llama.cpp b4916 or v0.5.0 before
 * {@link ModelChecks} existed, and a few more read off llama.cpp's loaders (the comment on each says which
 * native check it meets), rebuilt from a generated model: each must now throw a specific
 * {@link GgufFormatException} from {@link LlamaModel#load} (and the JVM is still here to see it).
 */
class ModelChecksTest {
    @TempDir
    static Path dir;

    private static final SyntheticLlama SPM = SyntheticLlama.builder().build();
    private static final SyntheticLlama BPE = SyntheticLlama.builder()
            .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).build();

    private static Arguments crash(String name, SyntheticLlama base, Problem problem, Function<GgufMutator, byte[]> m) {
        return Arguments.of(name, base, problem, m);
    }

    private static Function<GgufMutator, byte[]> meta(java.util.function.Consumer<Map<String, GgufValue>> edit) {
        return m -> m.withMetadata(edit);
    }

    private static GgufValue.Array retyped(Map<String, GgufValue> meta, String key, GgufValueType type) {
        List<GgufValue> out = new ArrayList<>();
        for (GgufValue e : ((GgufValue.Array) meta.get(key)).elements()) {
            out.add(type == GgufValueType.STRING ? new GgufValue.Str("1") : new GgufValue.Int(type, 1));
        }
        return new GgufValue.Array(type, out);
    }

    static Stream<Arguments> crashes() {
        return Stream.of(
                // gguf.cpp gguf_get_arr_str: GGML_ASSERT(ctx->kv[key_id].get_type() == GGUF_TYPE_STRING)
                crash("token texts as an array of UINT32", SPM, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.tokens", retyped(m, "tokenizer.ggml.tokens", GgufValueType.UINT32)))),
                crash("token texts as a scalar", SPM, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.tokens", GgufValue.i32(512)))),
                // llama-vocab.cpp: GGML_ASSERT(id_to_token.size() == token_to_id.size())
                crash("two tokens with one text", SPM, Problem.BAD_VOCABULARY, meta(m -> {
                    List<String> t = new ArrayList<>(SPM.tokens());
                    t.set(300, t.get(259));
                    m.put("tokenizer.ggml.tokens", GgufValue.stringArray(t));
                })),
                crash("two tokens with one text (BPE)", BPE, Problem.BAD_VOCABULARY, meta(m -> {
                    List<String> t = new ArrayList<>(BPE.tokens());
                    t.set(400, t.get(65));
                    m.put("tokenizer.ggml.tokens", GgufValue.stringArray(t));
                })),
                // the uniqueness assert again, found with seed 7: gguf_get_arr_str hands out C strings, so
                // "ab\0c" is a second "ab"
                crash("a token text cut short by a zero byte", SPM, Problem.BAD_VOCABULARY, meta(m -> {
                    List<String> t = new ArrayList<>(SPM.tokens());
                    t.set(400, t.get(300) + "\0" + "tail");
                    m.put("tokenizer.ggml.tokens", GgufValue.stringArray(t));
                })),
                // gguf.cpp gguf_find_key: strcmp, so this key would answer for tokenizer.ggml.scores unchecked
                crash("a key with a zero byte", SPM, Problem.BAD_KEY,
                        meta(m -> m.put("tokenizer.ggml.scores\0x", new GgufValue.Str("not scores")))),
                // gguf.cpp gguf_get_arr_data: GGML_ASSERT(ctx->kv[key_id].get_type() != GGUF_TYPE_STRING)
                crash("token types as a string", SPM, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.token_type", new GgufValue.Str("N  x")))),
                crash("token types as an array of strings", BPE, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.token_type", retyped(m, "tokenizer.ggml.token_type", GgufValueType.STRING)))),
                crash("scores as an array of strings", SPM, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.scores", retyped(m, "tokenizer.ggml.scores", GgufValueType.STRING)))),
                // b4916 llama-vocab.cpp reads scores[i] and toktypes[i] for every token, past the arrays' ends
                crash("three more tokens than scores and types", SPM, Problem.BAD_VOCABULARY, meta(m -> {
                    List<String> t = new ArrayList<>(SPM.tokens());
                    t.addAll(List.of("extra1", "extra2", "extra3"));
                    m.put("tokenizer.ggml.tokens", GgufValue.stringArray(t));
                })),
                crash("merges as an array of UINT32", BPE, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("tokenizer.ggml.merges", retyped(m, "tokenizer.ggml.merges", GgufValueType.UINT32)))),
                // llama-vocab.cpp keeps it as an empty pair without a word; refused so a corrupt list is named
                crash("a merge without its space", BPE, Problem.BAD_VOCABULARY, meta(m -> {
                    List<String> merges = new ArrayList<>(BPE.merges());
                    merges.set(0, merges.get(0).replace(" ", ""));
                    m.put("tokenizer.ggml.merges", GgufValue.stringArray(merges));
                })),
                // b4916 llama-model-loader.cpp gguf_get_val_u32: GGML_ASSERT(type_to_gguf_type<T>::value == type)
                crash("general.file_type as a FLOAT32", SPM, Problem.BAD_METADATA_TYPE,
                        meta(m -> m.put("general.file_type", GgufValue.f32(Float.NaN)))),
                // v0.5.0 llama-model.cpp: GGML_ASSERT(hparams.n_layer_nextn <= hparams.n_layer_all)
                crash("more next-token layers than layers", SPM, Problem.BAD_HYPERPARAMETERS,
                        meta(m -> m.put("llama.nextn_predict_layers", GgufValue.u32(44661)))),
                // llama-model.cpp: GGML_ASSERT(hparams.n_expert_used <= hparams.n_expert)
                crash("experts used but none there", SPM, Problem.BAD_HYPERPARAMETERS,
                        meta(m -> m.put("llama.expert_used_count", GgufValue.u32(2)))),
                // ggml-backend.cpp: GGML_ASSERT((uintptr_t)ptr % TENSOR_ALIGNMENT == 0 && "buffer pointer must be aligned")
                crash("tensors aligned to 2 bytes", SPM, Problem.MISALIGNED,
                        meta(m -> m.put(GgufFile.ALIGNMENT_KEY, GgufValue.u32(2)))),
                // ggml-cpu: GGML_ABORT in the mul/add kernels on a quantised operand
                crash("a Q5_0 norm", SPM, Problem.BAD_TENSOR_TYPE, m -> m.withTensorType("output_norm.weight", GgmlType.Q5_0)),
                crash("an I8 norm", BPE, Problem.BAD_TENSOR_TYPE, m -> m.withTensorType("blk.1.ffn_norm.weight", GgmlType.I8)),
                // ggml-cpu: no matrix multiplication for integer weights (the process exits)
                crash("an I32 weight", SPM, Problem.BAD_TENSOR_TYPE, m -> m.withTensorType("blk.0.ffn_up.weight", GgmlType.I32)),
                // llama-vocab.cpp tokenize: GGML_ASSERT(vocab.token_bos() != LLAMA_TOKEN_NULL)
                crash("BOS added but past a 1-token vocabulary", SPM, Problem.BAD_SPECIAL_TOKEN, meta(m -> {
                    m.put("tokenizer.ggml.tokens", GgufValue.stringArray(List.of("a")));
                    m.remove("tokenizer.ggml.scores");
                    m.remove("tokenizer.ggml.token_type");
                    m.remove("tokenizer.ggml.bos_token_id");
                    m.remove("tokenizer.ggml.eos_token_id");
                    m.remove("tokenizer.ggml.unknown_token_id");
                })),
                // llama-vocab.cpp drops it with a warning and falls back on a default id b4916 uses unchecked
                crash("EOS id past the vocabulary", BPE, Problem.BAD_SPECIAL_TOKEN,
                        meta(m -> m.put("tokenizer.ggml.eos_token_id", GgufValue.u32(BPE.vocabSize())))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crashes")
    void aBadFileIsRefusedBeforeLlamaCppSeesIt(String name, SyntheticLlama base, Problem problem,
                                                     Function<GgufMutator, byte[]> mutation) throws IOException {
        Path clean = dir.resolve(base.vocabulary() + ".gguf");
        if (!Files.exists(clean)) {
            base.writeTo(clean);
        }
        GgufMutator mutator = new GgufMutator(Files.readAllBytes(clean), GgufFile.read(clean));
        Path bad = Files.write(dir.resolve(name.replaceAll("[^A-Za-z0-9]+", "-") + ".gguf"), mutation.apply(mutator));
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> LlamaModel.load(bad).close(), name);
        assertEquals(problem, e.problem(), e.getMessage());
        assertTrue(e.getMessage().contains(bad.getFileName().toString()), e.getMessage());
        // the same file without the mutation passes, so the check is about the mutation
        ModelChecks.check(GgufFile.read(clean));
    }

    @Test
    void aModelWithoutTokenizerLoadsButItsTextMethodsThrow() throws IOException {
        // llama-vocab.cpp: GGML_ASSERT(tokenizer && "Tokenizer not initialized...") on the first tokenize
        Path clean = dir.resolve("no-tokenizer-base.gguf");
        SPM.writeTo(clean);
        GgufMutator mutator = new GgufMutator(Files.readAllBytes(clean), GgufFile.read(clean));
        Path p = Files.write(dir.resolve("no-tokenizer.gguf"),
                mutator.withMetadata(m -> m.put("tokenizer.ggml.model", new GgufValue.Str("none"))));
        try (LlamaModel model = LlamaModel.load(p)) {
            LlamaException e = assertThrows(LlamaException.class, () -> model.vocab().tokenize("Once upon a time"));
            assertTrue(e.getMessage().contains("has no vocabulary"), e.getMessage());
            assertThrows(LlamaException.class, () -> model.vocab().detokenize(new int[] {1}));
            assertThrows(LlamaException.class, () -> model.vocab().piece(1, true));
            assertThrows(LlamaException.class, () -> model.vocab().text(1));
            assertThrows(LlamaException.class, () -> model.vocab().isControl(1));
        }
    }

    @Test
    void theSharedModelsPass() {
        Path arith = TestModels.sharedFile("models/arith");
        List<Path> models = new ArrayList<>(List.of(TestModels.stories(), TestModels.aidreams()));
        try (Stream<Path> s = Files.list(arith)) {
            s.filter(p -> p.toString().endsWith(".gguf")).forEach(models::add);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        for (Path p : models) {
            ModelChecks.check(GgufFile.read(p));
        }
        assertTrue(models.size() > 2, models.toString());
    }
}
