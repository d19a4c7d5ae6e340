package dev.blender.nativebridge.generation;

/**
 * How to pick the next token from a distribution. Immutable; start from {@link #defaults()} or
 * {@link #greedy()}. The order of application is llama.cpp's default sampler chain: repetition
 * penalty, top-k, top-p, min-p (both on the untempered distribution), temperature, then a draw.
 *
 * @param temperature       0 = greedy (argmax); otherwise logits are divided by it
 * @param topK              keep the k most likely tokens (0 = all)
 * @param topP              keep the smallest set whose probability reaches p (1 = all)
 * @param minP              drop tokens below minP x the top probability (0 = off)
 * @param repeatPenalty     divide positive / multiply negative logits of recent tokens (1 = off)
 * @param repeatLastN       how many recent tokens the penalty looks at (prompt included)
 */
public record SamplerOptions(float temperature, int topK, float topP, float minP, float repeatPenalty,
                             int repeatLastN) {

    public SamplerOptions {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite value >= 0, was " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = off), was " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], was " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1), was " + minP);
        }
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeatPenalty must be a finite value > 0 (1 = off), was " + repeatPenalty);
        }
        if (repeatLastN < 0) {
            throw new IllegalArgumentException("repeatLastN must be >= 0, was " + repeatLastN);
        }
    }

    /** llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty. */
    public static SamplerOptions defaults() {
        return new SamplerOptions(0.8f, 40, 0.95f, 0.05f, 1.0f, 64);
    }

    /** Always the most likely token. */
    public static SamplerOptions greedy() {
        return new SamplerOptions(0f, 0, 1f, 0f, 1.0f, 64);
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }

    public SamplerOptions withTemperature(float t) {
        return new SamplerOptions(t, topK, topP, minP, repeatPenalty, repeatLastN);
    }

    public SamplerOptions withTopK(int k) {
        return new SamplerOptions(temperature, k, topP, minP, repeatPenalty, repeatLastN);
    }

    public SamplerOptions withTopP(float p) {
        return new SamplerOptions(temperature, topK, p, minP, repeatPenalty, repeatLastN);
    }

    public SamplerOptions withMinP(float p) {
        return new SamplerOptions(temperature, topK, topP, p, repeatPenalty, repeatLastN);
    }

    public SamplerOptions withRepeatPenalty(float penalty, int lastN) {
        return new SamplerOptions(temperature, topK, topP, minP, penalty, lastN);
    }
}
