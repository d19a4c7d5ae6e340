package dev.blender.nativebridge;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A LoRA adapter file that is valid GGUF but cannot be applied to the model it was loaded against. Thrown
 * by {@link LoraAdapter#validate} (and {@link LoraAdapter#load}) before any native code sees the file:
 * llama.cpp asserts or crashes (and so kills the process) on some of these, and throws an unnamed error on
 * the others.
 */
public final class AdapterFormatException extends LlamaException {
    private static final long serialVersionUID = 1L;

    /** What is wrong with the adapter. */
    public enum Problem {
        /** {@code general.type} is absent, not a string, or not {@code adapter}. */
        NOT_AN_ADAPTER,
        /** {@code adapter.type} is absent, not a string, or not {@code lora}. */
        NOT_LORA,
        /** {@code general.architecture} differs from the base model's. */
        ARCHITECTURE_MISMATCH,
        /**
         * A key llama.cpp reads with a fixed type has another: {@code general.type}, {@code general.architecture}
         * and {@code adapter.type} are STRINGs, {@code adapter.lora.alpha} a FLOAT32.
         */
        BAD_METADATA_TYPE,
        /** {@code adapter.lora.alpha} is NaN or infinite, which would make every logit NaN or infinite. */
        BAD_ALPHA,
        /** The file holds no {@code .lora_a}/{@code .lora_b} pair. */
        NO_TENSORS,
        /** A tensor name that ends neither in {@code .lora_a}, {@code .lora_b} nor {@code _norm.weight}. */
        UNEXPECTED_TENSOR,
        /** A {@code .lora_a} without its {@code .lora_b}, or the reverse. */
        MISSING_PAIR_MEMBER,
        /** The pair names a tensor the base model does not have, or one that is not a matrix. */
        UNKNOWN_BASE_TENSOR,
        /** A factor is not 2-D, or its outer dimensions do not match the base tensor's. */
        SHAPE_MISMATCH,
        /** The inner (rank) dimension of {@code lora_a} and {@code lora_b} differ. */
        RANK_MISMATCH,
        /** A factor of a type llama.cpp cannot multiply with (an integer type, F64, Q8_1, Q8_K). */
        UNSUPPORTED_TENSOR_TYPE,
        /**
         * An adapter on {@code token_embd.weight} for a model without {@code output.weight}: llama.cpp
         * would apply the embedding's factors, laid out for row lookup, to the output projection too.
         */
        TIED_EMBEDDINGS,
        /**
         * llama.cpp b4916 only: the adapter adapts a Q4_0 or IQ4_NL matrix that b4916 repacks for its CPU
         * kernels, and loading factors beside a repacked tensor crashes it (v0.5.0 loads them).
         */
        REPACKED_BASE_TENSOR
    }

    private final transient Path path;
    private final Problem problem;

    public AdapterFormatException(Path path, Problem problem, String detail) {
        super("Cannot use '" + path + "' as a LoRA adapter: " + detail);
        this.path = Objects.requireNonNull(path, "path");
        this.problem = Objects.requireNonNull(problem, "problem");
    }

    public Path path() {
        return path;
    }

    public Problem problem() {
        return problem;
    }
}
