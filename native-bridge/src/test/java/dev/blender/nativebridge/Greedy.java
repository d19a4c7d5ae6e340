package dev.blender.nativebridge;

/** A straightforward greedy decoder over the bridge, for tests. */
final class Greedy {
    private Greedy() {}

    /** Greedily continues {@code prompt} for up to {@code maxTokens}, stopping at end-of-generation. */
    static int[] generate(LlamaContext ctx, int[] prompt, int maxTokens) {
        Vocab vocab = ctx.model().vocab();
        int[] out = new int[maxTokens];
        int n = 0;
        try (Batch batch = Batch.create(Math.max(prompt.length, 1))) {
            batch.addSequence(prompt, 0, 0, true);
            ctx.decode(batch);
            int pos = prompt.length;
            while (n < maxTokens) {
                int next = dev.blender.nativebridge.generation.Sampler.argmax(ctx.logitsArray(batch.size() - 1), ctx.vocabSize());
                if (vocab.isEndOfGeneration(next)) {
                    break;
                }
                out[n++] = next;
                batch.clear();
                batch.add(next, pos++, 0, true);
                ctx.decode(batch);
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
