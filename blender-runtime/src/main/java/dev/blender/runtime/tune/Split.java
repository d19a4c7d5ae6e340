package dev.blender.runtime.tune;

import dev.blender.runtime.eval.Problem;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Problems dealt into a tuning half, on which compositions are compared and one is chosen, and a
 * confirmation half, which only the choice is measured on: a figure measured where it was chosen is
 * optimistic (the best of many noisy rows). The deal is a seeded shuffle, so the same seed gives the same
 * halves; each half keeps the file's order.
 *
 * @param tune         the problems compared on
 * @param confirm      the rest
 * @param tuneIndex    each tuning problem's index in the list split
 * @param confirmIndex each confirmation problem's index in the list split
 */
public record Split(List<Problem> tune, List<Problem> confirm, List<Integer> tuneIndex, List<Integer> confirmIndex) {
    public Split {
        tune = List.copyOf(tune);
        confirm = List.copyOf(confirm);
        tuneIndex = List.copyOf(tuneIndex);
        confirmIndex = List.copyOf(confirmIndex);
    }

    /**
     * Deals {@code Math.round(share * problems.size())} problems, chosen by {@code seed}, to tuning.
     *
     * @throws IllegalArgumentException a share outside (0, 1), or one that leaves either half empty
     */
    public static Split of(List<Problem> problems, double share, long seed) {
        if (!(share > 0 && share < 1)) {
            throw new IllegalArgumentException("tune share must be between 0 and 1 (exclusive), was " + share);
        }
        int n = problems.size();
        int tuneCount = (int) Math.round(share * n);
        if (tuneCount == 0 || tuneCount == n) {
            throw new IllegalArgumentException("tune share " + share + " of " + n + " problems leaves the "
                    + (tuneCount == 0 ? "tuning" : "confirmation") + " half empty: give more problems or another share");
        }
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed));
        List<Integer> tuneIndex = new ArrayList<>(order.subList(0, tuneCount));
        List<Integer> confirmIndex = new ArrayList<>(order.subList(tuneCount, n));
        Collections.sort(tuneIndex);
        Collections.sort(confirmIndex);
        return new Split(tuneIndex.stream().map(problems::get).toList(),
                confirmIndex.stream().map(problems::get).toList(), tuneIndex, confirmIndex);
    }
}
