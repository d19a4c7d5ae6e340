package dev.blender.genfuser;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.TokenListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Writes one answer from the top-ranked candidates of an instruction: a fuser model on a local context
 * ({@link GenFuser}) or one a server answers for. What the fuser reads is the same either way: the first K
 * candidates of the template, fewer padded by repeating the best ({@link #inputs}), as a fuser trained on K inputs
 * expects.
 */
public interface Fuser {

    /** The prompt format and K. */
    FuserTemplate template();

    /**
     * Fuses the first K of {@code ranked} (best first), streaming the answer to {@code listener} where the
     * fuser decodes here (a remote one gives it whole, at once).
     *
     * @throws IllegalArgumentException no candidates, or the prompt leaves no room for the answer
     */
    Fusion fuse(String instruction, List<String> ranked, FuseOptions options, TokenListener listener);

    /**
     * A fused answer and what writing it cost.
     *
     * @param candidate       the answer; a remote fuser's carries no tokens and no token probabilities
     * @param promptTokens    tokens of the fusion prompt (a remote server's count, 0 where it gave none)
     * @param generatedTokens tokens of the answer (a remote server's count, 0 where it gave none)
     */
    record Fusion(Candidate candidate, long promptTokens, long generatedTokens) {
        public Fusion {
            Objects.requireNonNull(candidate, "candidate");
        }
    }

    /**
     * The K candidates a fuser reads: the first K of {@code ranked}, fewer padded by repeating the best.
     *
     * @throws IllegalArgumentException {@code ranked} is empty
     */
    static List<String> inputs(FuserTemplate template, List<String> ranked) {
        Objects.requireNonNull(ranked, "ranked");
        if (ranked.isEmpty()) {
            throw new IllegalArgumentException("nothing to fuse: no candidates");
        }
        List<String> chosen = new ArrayList<>(ranked.subList(0, Math.min(template.candidates(), ranked.size())));
        while (chosen.size() < template.candidates()) {
            chosen.add(ranked.get(0));
        }
        return chosen;
    }
}
