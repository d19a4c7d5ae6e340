package dev.blender.nativebridge.gguf;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A file is not a GGUF model that llama.cpp could load safely. The message names the file and says
 * what is wrong; {@link #problem()} classifies it for code.
 */
public final class GgufFormatException extends dev.blender.nativebridge.LlamaException {
    private static final long serialVersionUID = 1L;

    /** What is wrong with the file. */
    public enum Problem {
        /** The path does not exist. */
        NOT_FOUND,
        /** The path is a directory or another non-regular file. */
        NOT_A_REGULAR_FILE,
        /** The file exists but could not be opened or read. */
        UNREADABLE,
        /** The file has no bytes. */
        EMPTY,
        /** The file does not start with "GGUF". */
        BAD_MAGIC,
        /** A GGUF version other than 2 or 3. */
        UNSUPPORTED_VERSION,
        /** The header, metadata or tensor infos run past the end of the file. */
        TRUNCATED,
        /** A count, dimension or nesting depth that cannot be right for a file of this size. */
        ABSURD_COUNT,
        /** A string length that runs past the end of the file. */
        STRING_TOO_LONG,
        /** A metadata value type id that GGUF does not define. */
        BAD_VALUE_TYPE,
        /** A tensor type id that ggml does not (or no longer) support. */
        UNKNOWN_TENSOR_TYPE,
        /** The same metadata key twice. */
        DUPLICATE_KEY,
        /** The same tensor name twice. */
        DUPLICATE_TENSOR,
        /** A tensor name llama.cpp cannot hold (64 bytes or longer). */
        BAD_TENSOR_NAME,
        /** An alignment that is not a power of two (or not a UINT32), or a tensor offset that is not aligned. */
        MISALIGNED,
        /** Tensor data extends past the end of the file. */
        TENSOR_OUT_OF_BOUNDS,
        /** Tensor data is not packed in declaration order, which llama.cpp requires. */
        UNEXPECTED_OFFSET,
        /** A tensor's first dimension is not a multiple of its type's block size. */
        BAD_SHAPE,
        /** A metadata key with a zero byte, which llama.cpp would read as a shorter key. */
        BAD_KEY,
        /** A key llama.cpp reads with one fixed type (token texts, scores, token types, merges, token ids) has another. */
        BAD_METADATA_TYPE,
        /** The vocabulary contradicts itself: duplicate token texts, arrays of different lengths, malformed merges. */
        BAD_VOCABULARY,
        /** A special token id (BOS, EOS, ...) outside the vocabulary, or none where the tokenizer must add one. */
        BAD_SPECIAL_TOKEN,
        /** Hyper-parameters llama.cpp cannot run: layer or expert counts out of range, heads that do not divide. */
        BAD_HYPERPARAMETERS,
        /** A tensor type that cannot be used where the tensor is used (a quantised norm, an integer weight). */
        BAD_TENSOR_TYPE
    }

    private final transient Path path;
    private final Problem problem;

    /** Creates an exception for {@code path} with a human-readable {@code detail}. */
    public GgufFormatException(Path path, Problem problem, String detail) {
        super("Cannot use '" + path + "' as a GGUF model: " + detail);
        this.path = Objects.requireNonNull(path, "path");
        this.problem = Objects.requireNonNull(problem, "problem");
    }

    /** Creates an exception that keeps the I/O failure that caused it. */
    public GgufFormatException(Path path, Problem problem, String detail, Throwable cause) {
        this(path, problem, detail);
        initCause(cause);
    }

    /** The file that was rejected. */
    public Path path() {
        return path;
    }

    /** The kind of problem. */
    public Problem problem() {
        return problem;
    }
}
