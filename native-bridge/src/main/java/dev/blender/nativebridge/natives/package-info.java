/**
 * Installing a prebuilt llama.cpp without a compiler: {@link dev.blender.nativebridge.natives.NativesInstaller}
 * fetches the pinned node-llama-cpp npm packages of a {@link dev.blender.nativebridge.natives.Variant} (cpu, cuda,
 * cuda12, vulkan), verifies their SHA-512 and unpacks only their shared libraries into a folder.
 */
package dev.blender.nativebridge.natives;
