package dev.blender.nativebridge;

import java.nio.file.Path;

/**
 * A file that passed GGUF validation but that llama.cpp still could not load (for example an
 * architecture this llama.cpp build does not know). Files that fail validation throw
 * {@link dev.blender.nativebridge.gguf.GgufFormatException} before any native code runs.
 */
public final class ModelLoadException extends LlamaException {
    private static final long serialVersionUID = 1L;

    private final transient Path path;

    public ModelLoadException(Path path, String message) {
        super(message);
        this.path = path;
    }

    /** The file that failed to load. */
    public Path path() {
        return path;
    }
}
