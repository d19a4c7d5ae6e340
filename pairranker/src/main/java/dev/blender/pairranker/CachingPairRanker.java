package dev.blender.pairranker;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Remembers pairwise scores, keyed by (ranker id, instruction, first text, second text): re-ranking
 * the same candidates, or MaxLogits, MaxWins and bubble over one candidate set, costs the model
 * nothing after the first time. Misses of one request go to the delegate together, so it can still
 * batch them. Thread-safe when the delegate is (the cache itself is Caffeine's).
 */
public final class CachingPairRanker implements PairRanker {
    private record Key(String ranker, String instruction, String first, String second) {}

    /** A pair's score and its share of what the batch that scored it cost. */
    private record Scored(double score, double tokens, double millis) {}

    /**
     * The store of pair scores, shareable between caching rankers (e.g. one per request, each over its
     * own judge context): the key includes the ranker's id, so different rankers never mix. Thread-safe.
     */
    public static final class PairCache {
        private final Cache<Key, Scored> cache;

        /** Holds up to {@code maximumSize} pair scores (least recently used go first). */
        public PairCache(long maximumSize) {
            if (maximumSize < 1) {
                throw new IllegalArgumentException("maximumSize must be >= 1, was " + maximumSize);
            }
            this.cache = Caffeine.newBuilder().maximumSize(maximumSize).recordStats().build();
        }

        /** Hit and miss counts. */
        public CacheStats stats() {
            return cache.stats();
        }
    }

    private final PairRanker delegate;
    private final Cache<Key, Scored> cache;
    private final PairCache store;
    private final AtomicLong delegatePairs = new AtomicLong();
    private final java.util.concurrent.atomic.DoubleAdder chargedTokens = new java.util.concurrent.atomic.DoubleAdder();
    private final java.util.concurrent.atomic.DoubleAdder chargedMillis = new java.util.concurrent.atomic.DoubleAdder();

    /** Caches up to {@code maximumSize} pair scores of its own. */
    public CachingPairRanker(PairRanker delegate, long maximumSize) {
        this(delegate, new PairCache(maximumSize));
    }

    /** Caches into a shared store. */
    public CachingPairRanker(PairRanker delegate, PairCache store) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.store = Objects.requireNonNull(store, "store");
        this.cache = store.cache;
    }

    @Override
    public String id() {
        return delegate.id();
    }

    @Override
    public double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs) {
        double[] out = new double[pairs.size()];
        Key[] keys = new Key[pairs.size()];
        Map<Key, List<Integer>> missing = new LinkedHashMap<>();
        for (int i = 0; i < pairs.size(); i++) {
            OrderedPair p = pairs.get(i);
            keys[i] = new Key(delegate.id(), instruction, candidates.get(p.first()), candidates.get(p.second()));
            Scored hit = cache.getIfPresent(keys[i]);
            if (hit != null) {
                out[i] = hit.score();
                chargedTokens.add(hit.tokens());
                chargedMillis.add(hit.millis());
            } else {
                missing.computeIfAbsent(keys[i], k -> new ArrayList<>()).add(i);
            }
        }
        if (!missing.isEmpty()) {
            List<OrderedPair> ask = new ArrayList<>(missing.size());
            for (List<Integer> at : missing.values()) {
                ask.add(pairs.get(at.get(0)));
            }
            long tokensBefore = delegate.tokensDecoded();
            long start = System.nanoTime();
            double[] scores = delegate.compare(instruction, candidates, ask);
            double millis = (System.nanoTime() - start) / 1e6;
            long tokens = delegate.tokensDecoded() - tokensBefore;
            delegatePairs.addAndGet(ask.size());
            chargedTokens.add(tokens);
            chargedMillis.add(millis);
            int q = 0;
            for (Map.Entry<Key, List<Integer>> e : missing.entrySet()) {
                cache.put(e.getKey(), new Scored(scores[q], (double) tokens / ask.size(), millis / ask.size()));
                for (int i : e.getValue()) {
                    out[i] = scores[q];
                }
                q++;
            }
        }
        return out;
    }

    /** Hit and miss counts of the (possibly shared) cache. */
    public CacheStats stats() {
        return store.stats();
    }

    /** Ordered pairs the delegate has actually scored (each a model evaluation for a model ranker). */
    public long delegatePairs() {
        return delegatePairs.get();
    }

    /**
     * What every pair asked through this ranker cost, hits included at their share of the batch that first
     * scored them: the cost of ranking as if nothing had been cached, for comparing strategies that share
     * one cache (as {@code blender eval} does).
     */
    public double chargedTokens() {
        return chargedTokens.sum();
    }

    /** Wall time in the same terms as {@link #chargedTokens()}. */
    public double chargedMillis() {
        return chargedMillis.sum();
    }

    @Override
    public long tokensDecoded() {
        return delegate.tokensDecoded();
    }

    @Override
    public long tokensGenerated() {
        return delegate.tokensGenerated();
    }

    public PairRanker delegate() {
        return delegate;
    }
}
