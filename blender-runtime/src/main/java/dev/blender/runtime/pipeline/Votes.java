package dev.blender.runtime.pipeline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Counting answers: what a blend falls back to without a judge, and what frequency-based fusion picks. */
public final class Votes {
    private Votes() {}

    /** Distinct non-blank answers (stripped), most frequent first; ties in order of first appearance. */
    public static List<String> byFrequency(List<String> answers) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String a : answers) {
            String text = a.strip();
            if (!text.isEmpty()) {
                counts.merge(text, 1, Integer::sum);
            }
        }
        List<String> out = new ArrayList<>(counts.keySet());
        out.sort((x, y) -> counts.get(y) - counts.get(x));
        return out;
    }
}
