/**
 * Model merging, tensor by tensor: several GGUF models of one architecture and shape made into one file
 * ({@link dev.blender.runtime.merge.ModelMerger}).
 *
 * <p>Methods ({@link dev.blender.runtime.merge.MergeMethod}): the linear soup (element-wise mean), task
 * arithmetic ({@code base + lambda * sum_i (m_i - base)}), TIES (trim, elect sign, disjoint mean) and DARE
 * (random drop and rescale, then task arithmetic). Every tensor is merged, norms and embeddings included.
 * The per-tensor arithmetic is public in {@link dev.blender.runtime.merge.MergeKernels} for callers that
 * hold tensors in memory.
 *
 * <p>Inputs are read with the pure-Java GGUF reader, validated before anything is written, and refused
 * with an {@link IllegalArgumentException} naming the first difference that makes them unmergeable.
 * Memory stays at a few tensors: each input tensor is mapped, dequantised, merged and written in turn.
 */
package dev.blender.runtime.merge;
