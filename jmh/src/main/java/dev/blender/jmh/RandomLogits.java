package dev.blender.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** The combine benchmarks' input: rows of Gaussian logits (sd 3) in native memory, as llama.cpp leaves them. */
final class RandomLogits {
    private RandomLogits() {}

    static MemorySegment[] rows(Arena arena, int members, int vocab, long seed) {
        MemorySegment[] logits = new MemorySegment[members];
        SplittableRandom r = new SplittableRandom(seed);
        for (int m = 0; m < members; m++) {
            logits[m] = arena.allocate(ValueLayout.JAVA_FLOAT, vocab);
            for (int i = 0; i < vocab; i++) {
                logits[m].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (r.nextGaussian() * 3));
            }
        }
        return logits;
    }
}
