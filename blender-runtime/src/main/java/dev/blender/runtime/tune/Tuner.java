package dev.blender.runtime.tune;

import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Stage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Chooses a composition for a task: every composition of a search runs on the tuning half of the
 * problems ({@link Split}), the accuracy-cost frontier is drawn from their figures, the most accurate one
 * within the budget is chosen, and it (with the rest of the frontier) runs again on the confirmation half,
 * whose figure is the one to expect.
 *
 * <p>The compositions run through {@link Evaluation}: on each problem they share one
 * {@link dev.blender.runtime.pipeline.SharedWork}, so a sampling that many compositions read (the same
 * models, candidates and temperature) is decoded once and every judge verdict is asked once; each
 * composition is still charged, in tokens and time, what it would cost alone. Not thread-safe.
 */
public final class Tuner {
    private final Blender blender;
    private final AnswerChecker checker;

    public Tuner(Blender blender, AnswerChecker checker) {
        this.blender = Objects.requireNonNull(blender, "blender");
        this.checker = Objects.requireNonNull(checker, "checker");
    }

    /** Told as the tune goes. */
    public interface Listener {
        /** A half starts: {@code half} is {@code tune} or {@code confirm}. */
        default void phase(String half, int compositions, int problems) {}

        /** After each problem of a half, with the rows so far. */
        default void problemDone(String half, int done, int total, List<Evaluation.Row> rows) {}
    }

    /** Nothing told. */
    public static final Listener QUIET = new Listener() {};

    /**
     * Runs the search.
     *
     * @param compositions the search space, names unique (e.g. {@link SearchSpace#compositions})
     * @param split        the halves
     * @param seed         the requests' seeds ({@link Evaluation#seedOf} of each half's problem index)
     * @param budget       what the choice may cost per problem
     */
    public Tuning tune(List<Composition> compositions, Split split, long seed, Frontier.Budget budget, Listener listener) {
        Map<String, Composition> byName = new LinkedHashMap<>();
        for (Composition c : compositions) {
            if (c.name().equals(WARM_UP) || byName.putIfAbsent(c.name(), c) != null) {
                throw new IllegalArgumentException("two compositions of the search are named " + c.name());
            }
        }
        if (byName.isEmpty()) {
            throw new IllegalArgumentException("nothing to tune: no compositions");
        }
        // the first composition to need a model would otherwise be charged its loading in wall time
        blender.warmUp((done, total, file) -> { });
        Map<String, List<String>> answers = new HashMap<>();
        listener.phase("tune", compositions.size(), split.tune().size());
        List<Evaluation.Row> tuned = run("tune", compositions, split.tune(), seed, listener, answers);
        List<Frontier.Point> points = tuned.stream().map(Frontier.Point::of).toList();
        Frontier.Point chosen = budget.choose(points);
        Set<String> confirmNames = new LinkedHashSet<>();
        Frontier.of(points, Cost.TOKENS).forEach(p -> confirmNames.add(p.name()));
        Frontier.of(points, Cost.MILLIS).forEach(p -> confirmNames.add(p.name()));
        confirmNames.add(chosen.name());
        List<Composition> confirming = byName.values().stream().filter(c -> confirmNames.contains(c.name())).toList();
        listener.phase("confirm", confirming.size(), split.confirm().size());
        List<Evaluation.Row> confirmed = run("confirm", confirming, split.confirm(), seed, listener, new HashMap<>());
        return new Tuning(List.copyOf(byName.values()), tuned, confirmed, chosen.name(), budget, split, seed, answers);
    }

    /**
     * Runs first on every problem and is dropped: the first request of a problem took 10-20 ms more wall
     * time than the same request later (measured on arith), which would be charged to whichever composition
     * came first. It shares no work with the search (its temperature is its own), so nothing it did is
     * charged to another.
     */
    static final String WARM_UP = "tune:warm-up";

    private List<Evaluation.Row> run(String half, List<Composition> compositions, List<Problem> problems, long seed,
                                     Listener listener, Map<String, List<String>> answers) {
        List<Composition> rows = new ArrayList<>();
        rows.add(new Composition(WARM_UP, List.of(new Stage.Sample(List.of("first"), 1, false, Stage.Sampler.ANSWER,
                0.37f))));
        rows.addAll(compositions);
        List<Evaluation.Row> out = new Evaluation(blender, rows, checker, null).run(problems, seed,
                new Evaluation.Listener() {
                    @Override
                    public void problemDone(int done, int total, List<Evaluation.Row> sofar) {
                        listener.problemDone(half, done, total, sofar.subList(1, sofar.size()));
                    }

                    @Override
                    public void answered(int index, Problem problem, String method, BlendResult result, boolean right) {
                        if (!method.equals(WARM_UP)) {
                            answers.computeIfAbsent(method, k -> new ArrayList<>()).add(result.answer());
                        }
                    }
                });
        return List.copyOf(out.subList(1, out.size()));
    }
}
