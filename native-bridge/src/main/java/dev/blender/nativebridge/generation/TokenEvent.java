package dev.blender.nativebridge.generation;

/**
 * One streamed token: candidate index, token id (-1 for text released at the end, see
 * {@link TokenListener#onToken}) and the text it adds.
 */
public record TokenEvent(int candidate, int token, String text) {}
