package dev.blender.nativebridge.generation;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Guesses from texts the sequence is likely to repeat (a fuser's candidates, a document being quoted): finds the
 * longest suffix of what was generated that occurs in one of the sources, and proposes what follows it there.
 * Before anything is generated it proposes the start of the first source. Ties go to the earlier source, then to
 * the earlier place in it, so list the most likely source first. Immutable and thread-safe.
 */
public final class SuffixDrafter implements Drafter {
    /**
     * How far back a match is followed: beyond a few tokens a longer match rarely picks a different place, and the
     * bound keeps a guess at sources x this many comparisons.
     */
    private static final int MAX_MATCH = 32;
    private static final int[] NONE = new int[0];

    private final int[][] sources;

    private SuffixDrafter(int[][] sources) {
        this.sources = sources;
    }

    /** A drafter over these token sequences, most likely first (copied). */
    public static SuffixDrafter of(List<int[]> sources) {
        Objects.requireNonNull(sources, "sources");
        return new SuffixDrafter(sources.stream().map(int[]::clone).toArray(int[][]::new));
    }

    @Override
    public int[] draft(int[] generated, int max) {
        if (max < 1) {
            return NONE;
        }
        int g = generated.length;
        if (g == 0) {
            for (int[] s : sources) {
                if (s.length > 0) {
                    return Arrays.copyOf(s, Math.min(max, s.length));
                }
            }
            return NONE;
        }
        int bestLength = 0;
        int[] best = null;
        int bestAt = 0;
        for (int[] s : sources) {
            // i: where the continuation starts, so the suffix must end at i - 1 and something must follow
            for (int i = 1; i < s.length; i++) {
                int m = 0;
                int most = Math.min(Math.min(i, g), MAX_MATCH);
                while (m < most && s[i - 1 - m] == generated[g - 1 - m]) {
                    m++;
                }
                if (m > bestLength) {
                    bestLength = m;
                    best = s;
                    bestAt = i;
                }
            }
        }
        return best == null ? NONE : Arrays.copyOfRange(best, bestAt, Math.min(best.length, bestAt + max));
    }
}
