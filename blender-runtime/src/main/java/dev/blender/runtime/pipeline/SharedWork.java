package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.CachingPairRanker;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Work that several requests on the same question share, so that strategies compared side by side see
 * the same candidates and the same judge verdicts ({@code blender eval} runs every composition of one
 * problem with one of these). Each request that reuses a piece of work is charged what it cost when it
 * was done, in its usage and timings, so that results still compare as if each request ran alone.
 * Pass it with {@link BlendRequest#withSharedWork}; keep one per question (it holds every sample).
 * Thread-safe.
 */
public final class SharedWork {
    /** What identifies a sampling: the same model, prompt, settings and seed give the same candidates. */
    private record SampleKey(Path model, List<Integer> prompt, int candidates, SamplerOptions sampler, long seed,
                             int maxTokens, List<String> stop) {}

    /** Candidates and what sampling them cost. */
    record Samples(List<Candidate> candidates, double millis, long promptTokens) {
        Samples(List<Candidate> candidates, double millis) {
            this(candidates, millis, -1);
        }
    }

    private final Map<SampleKey, Samples> samples = new ConcurrentHashMap<>();
    private final CachingPairRanker.PairCache pairs;

    /** Holds every sampling and up to 100,000 pair verdicts. */
    public SharedWork() {
        this.pairs = new CachingPairRanker.PairCache(100_000);
    }

    CachingPairRanker.PairCache pairs() {
        return pairs;
    }

    /** The samples for a key, from an earlier request or from {@code sample} now. */
    Samples samples(Path model, int[] prompt, int candidates, SamplerOptions sampler, long seed, int maxTokens,
                    List<String> stop, Supplier<Samples> sample) {
        SampleKey key = new SampleKey(model, Arrays.stream(prompt).boxed().toList(), candidates, sampler, seed, maxTokens,
                List.copyOf(stop));
        Samples done = samples.get(key);
        if (done != null) {
            return done;
        }
        Samples fresh = sample.get();
        Samples raced = samples.putIfAbsent(key, fresh);
        return raced != null ? raced : fresh;
    }
}
