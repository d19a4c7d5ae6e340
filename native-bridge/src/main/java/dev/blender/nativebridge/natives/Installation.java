package dev.blender.nativebridge.natives;

import java.nio.file.Path;

/**
 * A complete install of a natives variant.
 *
 * @param variant what was installed
 * @param dir     the folder holding the libraries: the value for {@code BLENDER_LLAMA_LIBRARY}
 * @param library the llama.cpp library in it, e.g. {@code dir/libllama.v0.5.0.so}
 * @param reused  true when a complete earlier install was found and nothing was downloaded
 */
public record Installation(Variant variant, Path dir, Path library, boolean reused) {}
