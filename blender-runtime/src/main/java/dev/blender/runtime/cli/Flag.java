package dev.blender.runtime.cli;

import java.util.function.Supplier;

/** Reading a flag's value through the library, so that the library's error about it names the flag. */
final class Flag {
    private Flag() {}

    /** What {@code reading} returns; its {@link IllegalArgumentException} prefixed with {@code flag}. */
    static <T> T read(String flag, Supplier<T> reading) {
        try {
            return reading.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + ": " + e.getMessage(), e);
        }
    }
}
