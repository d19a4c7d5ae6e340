package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@link Stage.Pick} chooses among the answers stages wrote: the text written most often, ties to the
 * most confident writer. Several writers agreeing is the stronger evidence; where they disagree, a writer's
 * least likely token says how sure it was (the fuser's and the judge's are well calibrated on arith).
 */
final class AnswerPick {
    private AnswerPick() {}

    /** One answer a stage wrote, with the candidate that carries its token probabilities (null: unknown). */
    record Written(String text, Candidate by) {
        /** The probability of the least likely token; 0 where the probabilities are unknown (a remote writer). */
        double confidence() {
            if (by == null || by.logProbs().length == 0) {
                return 0;
            }
            double least = 0;
            for (float f : by.logProbs()) {
                least = Math.min(least, f);
            }
            return Math.exp(least);
        }
    }

    /**
     * The chosen answer among the last {@code last} written (all when null or more than were written); the
     * earlier written wins a full tie.
     */
    static Written choose(List<Written> written, Integer last) {
        if (written.isEmpty()) {
            throw new IllegalStateException("pick: no stage wrote an answer before it");
        }
        List<Written> among = last == null || last >= written.size() ? written
                : written.subList(written.size() - last, written.size());
        Map<String, Integer> votes = new LinkedHashMap<>();
        Map<String, Written> surest = new LinkedHashMap<>();
        for (Written w : among) {
            votes.merge(w.text(), 1, Integer::sum);
            surest.merge(w.text(), w, (a, b) -> b.confidence() > a.confidence() ? b : a);
        }
        Written best = null;
        for (Map.Entry<String, Written> e : surest.entrySet()) {
            Written w = e.getValue();
            if (best == null || votes.get(w.text()) > votes.get(best.text())
                    || votes.get(w.text()).equals(votes.get(best.text())) && w.confidence() > best.confidence()) {
                best = w;
            }
        }
        return best;
    }
}
