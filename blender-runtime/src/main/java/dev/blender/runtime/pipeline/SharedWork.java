package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.runtime.member.Member;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Work that several requests on the same question share, so that strategies compared side by side see
 * the same candidates, judge verdicts, mixes and fusions ({@code blender eval} runs every composition of one
 * problem with one of these). Each request that reuses a piece of work is charged what it cost when it
 * was done, in its usage and timings, so that results still compare as if each request ran alone.
 * Pass it with {@link BlendRequest#withSharedWork}; keep one per question (it holds every sample).
 * Thread-safe.
 */
public final class SharedWork {
    /** What identifies a sampling: the same member, prompt, settings and seed give the same candidates. */
    private record SampleKey(Member member, List<Integer> prompt, int candidates, SamplerOptions sampler, long seed,
                             int maxTokens, List<String> stop) {}

    /**
     * Candidates and what sampling them cost: the generated tokens counted apart, as a remote member's
     * candidates carry none.
     */
    record Samples(List<Candidate> candidates, double millis, long promptTokens, long generatedTokens) {
        /** Candidates decoded here, their own tokens counted. */
        Samples(List<Candidate> candidates, double millis) {
            this(candidates, millis, -1, candidates.stream().mapToLong(Candidate::tokenCount).sum());
        }
    }

    /**
     * A text a model wrote from settled inputs (a mix, a fusion), what it cost and its tokens: counted apart, as
     * a remote fuser's answer carries none.
     */
    record Written(Candidate candidate, double millis, long promptTokens, long generatedTokens) {
        /** A text decoded here, its own tokens counted. */
        Written(Candidate candidate, double millis, long promptTokens) {
            this(candidate, millis, promptTokens, candidate.tokenCount());
        }
    }

    private final Map<SampleKey, Samples> samples = new ConcurrentHashMap<>();
    private final Map<Object, Written> written = new ConcurrentHashMap<>();
    private final CachingPairRanker.PairCache pairs;

    /** Holds every sampling and up to 100,000 pair verdicts. */
    public SharedWork() {
        this.pairs = new CachingPairRanker.PairCache(100_000);
    }

    CachingPairRanker.PairCache pairs() {
        return pairs;
    }

    /** The samples for a key, from an earlier request or from {@code sample} now. */
    Samples samples(Member member, int[] prompt, int candidates, SamplerOptions sampler, long seed, int maxTokens,
                    List<String> stop, Supplier<Samples> sample) {
        SampleKey key = new SampleKey(member, Arrays.stream(prompt).boxed().toList(), candidates, sampler, seed, maxTokens,
                List.copyOf(stop));
        Samples done = samples.get(key);
        if (done != null) {
            return done;
        }
        Samples fresh = sample.get();
        Samples raced = samples.putIfAbsent(key, fresh);
        return raced != null ? raced : fresh;
    }

    /** How many mixes and fusions are held. */
    int writtenCount() {
        return written.size();
    }

    /**
     * What a stage wrote for a key that names everything its text depends on (model, inputs, sampler,
     * seed): from an earlier request, or from {@code write} now. Compositions that differ after the stage
     * (a gate's threshold, a verify) or only in what sampled before it read one mix or fusion.
     */
    Written written(Object key, Supplier<Written> write) {
        Written done = written.get(key);
        if (done != null) {
            return done;
        }
        Written fresh = write.get();
        Written raced = written.putIfAbsent(key, fresh);
        return raced != null ? raced : fresh;
    }
}
