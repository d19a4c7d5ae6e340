package dev.blender.runtime.combine;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.Vocab;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The members' rows at one step of a per-token mix, over the combined tokens ({@link VocabAlignment}): what
 * {@link MixedGenerator} samples from and {@link TextScorer} scores with, read in place when the members share a
 * vocabulary and gathered into reused arrays when they do not, so a step allocates nothing. Not thread-safe.
 */
final class MemberRows {
    final VocabAlignment alignment;
    /** The combined tokens. */
    final int size;
    /** Each member's own row of the step, set by the caller before {@link #view}. */
    final MemorySegment[] own;
    private final float[][] gathered;
    /** gathered as segments, what the combiner and adaptive weights read when vocabularies differ. */
    private final MemorySegment[] gatheredRows;

    MemberRows(List<LlamaContext> members, VocabAlignment.Policy policy) {
        List<Vocab> vocabs = new ArrayList<>();
        for (LlamaContext c : members) {
            vocabs.add(c.model().vocab());
        }
        this.alignment = VocabAlignment.of(vocabs, policy);
        this.size = alignment.size();
        this.own = new MemorySegment[members.size()];
        this.gathered = alignment.isIdentity() ? null : new float[members.size()][size];
        this.gatheredRows = new MemorySegment[members.size()];
        for (int m = 0; m < members.size() && gathered != null; m++) {
            gatheredRows[m] = MemorySegment.ofArray(gathered[m]);
        }
    }

    /** The {@link #own} rows over the combined tokens, as a combination by {@code method} reads them. */
    MemorySegment[] view(CombineMethod method) {
        if (alignment.isIdentity()) {
            return own;
        }
        alignment.gatherAll(own, gathered, method);
        return gatheredRows;
    }
}
