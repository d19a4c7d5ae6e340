package dev.blender.nativebridge.natives;

import java.util.Set;

/**
 * One pinned npm package and which of its files are kept.
 *
 * @param name      the scoped npm name, e.g. {@code @node-llama-cpp/linux-x64}
 * @param integrity the pinned {@code dist.integrity} (SRI, {@code sha512-<base64>})
 * @param size      the tarball's size in bytes (for messages only)
 * @param binsDir   the folder inside the tarball whose files are kept, e.g. {@code package/bins/linux-x64/}
 * @param skip      file names in {@code binsDir} that are not kept even though they are libraries
 */
record NpmPackage(String name, String integrity, long size, String binsDir, Set<String> skip) {
    /** Files every package carries that no libllama or libggml needs: node's addon and llama.cpp's C++ helpers. */
    static final Set<String> NOT_NEEDED = Set.of("llama-addon.node", "libllama-common.so");

    String spec() {
        return name + "@" + NativesInstaller.VERSION;
    }

    /** The file name the registry serves, e.g. {@code linux-x64-3.22.1.tgz}. */
    String tarballName() {
        return name.substring(name.indexOf('/') + 1) + "-" + NativesInstaller.VERSION + ".tgz";
    }

    String tarballUrl() {
        return "https://registry.npmjs.org/" + name + "/-/" + tarballName();
    }

    /**
     * The name an archive entry is extracted under, or null when it is not kept: the shared libraries and
     * {@code _nlcBuildMetadata.json} directly in {@link #binsDir}, except {@link #skip}.
     */
    String select(String entry) {
        if (!entry.startsWith(binsDir)) {
            return null;
        }
        String file = entry.substring(binsDir.length());
        if (file.isEmpty() || file.contains("/") || skip.contains(file) || NOT_NEEDED.contains(file)) {
            return null;
        }
        return file.endsWith(".so") || file.contains(".so.") || file.equals("_nlcBuildMetadata.json") ? file : null;
    }
}
