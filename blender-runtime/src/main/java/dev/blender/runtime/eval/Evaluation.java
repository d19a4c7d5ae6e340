package dev.blender.runtime.eval;

import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Completion;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.SharedWork;
import dev.blender.runtime.remote.RemoteException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

/**
 * Compositions compared on the same problems through {@link Blender}, the library users get: each row is
 * a composition that {@code blender run --strategy} runs too. The compositions of one problem share one
 * {@link SharedWork}, so they read the same sampled candidates and judge verdicts, and each is charged
 * what that work cost (rows compare as if each ran alone).
 *
 * <p>Two rows describe the shared pool instead of choosing from it: {@code pool:oracle} (any candidate of
 * the pool composition right: the ceiling of every picker) and {@code pool:random} (one candidate drawn at
 * random). {@link #groups} splits every row's accuracy by the kind of problem (e.g. by operation). Not
 * thread-safe; one evaluation runs on the calling thread.
 */
public final class Evaluation {
    private final Blender blender;
    private final List<Composition> compositions;
    private final AnswerChecker checker;
    private final Composition pool;
    private final Map<String, Pattern> groups;

    /**
     * @param pool whose candidates the pool rows describe (e.g. {@code majority}: every generator's
     *             candidates); null = no pool rows
     */
    public Evaluation(Blender blender, List<Composition> compositions, AnswerChecker checker, Composition pool) {
        this(blender, compositions, checker, pool, Map.of());
    }

    private Evaluation(Blender blender, List<Composition> compositions, AnswerChecker checker, Composition pool,
                       Map<String, Pattern> groups) {
        this.blender = Objects.requireNonNull(blender, "blender");
        this.compositions = List.copyOf(compositions);
        this.checker = Objects.requireNonNull(checker, "checker");
        this.pool = pool;
        this.groups = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(groups));
        if (this.compositions.isEmpty()) {
            throw new IllegalArgumentException("nothing to evaluate: no compositions");
        }
    }

    /**
     * This evaluation with every row's accuracy also counted per group, in the order given: a problem
     * belongs to each group whose pattern is found in its question (none, one or several).
     */
    public Evaluation groups(Map<String, Pattern> groups) {
        groups.forEach((name, pattern) -> {
            Objects.requireNonNull(name, "group name");
            Objects.requireNonNull(pattern, "pattern of group " + name);
        });
        return new Evaluation(blender, compositions, checker, pool, groups);
    }

    /** One row's tally; {@code groups} the accuracy on each group's problems ({@link #groups}). */
    public record Row(String method, int correct, int problems, long tokens, double millis,
                      Map<String, Accuracy> groups) {
        public Row {
            groups = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(groups));
        }

        public Accuracy accuracy() {
            return new Accuracy(correct, problems);
        }

        public double tokensPerProblem() {
            return problems == 0 ? 0 : (double) tokens / problems;
        }

        public double millisPerProblem() {
            return problems == 0 ? 0 : millis / problems;
        }

        Row plus(boolean right, long t, double ms, List<String> in) {
            Map<String, Accuracy> g = new LinkedHashMap<>(groups);
            for (String name : in) {
                g.computeIfPresent(name, (k, a) -> new Accuracy(a.correct() + (right ? 1 : 0), a.total() + 1));
            }
            return new Row(method, correct + (right ? 1 : 0), problems + 1, tokens + t, millis + ms, g);
        }
    }

    /** Told after every problem, with the rows so far. */
    @FunctionalInterface
    public interface Listener {
        void problemDone(int done, int total, List<Row> rows);

        /** One row's answer to one problem (for error analysis); {@code index} counts from 0. */
        default void answered(int index, Problem problem, String method, BlendResult result, boolean right) {}
    }

    /**
     * Runs every composition on every problem. The request seed of problem {@code i} is derived from
     * {@code seed} and {@code i}, so that a row's answers do not depend on which other rows run.
     */
    public List<Row> run(List<Problem> problems, long seed, Listener listener) {
        Map<String, Accuracy> none = new LinkedHashMap<>();
        groups.keySet().forEach(g -> none.put(g, new Accuracy(0, 0)));
        Map<String, Row> rows = new LinkedHashMap<>();
        for (Composition c : compositions) {
            rows.put(c.name(), new Row(c.name(), 0, 0, 0, 0, none));
        }
        if (pool != null) {
            rows.put("pool:random", new Row("pool:random", 0, 0, 0, 0, none));
            rows.put("pool:oracle", new Row("pool:oracle", 0, 0, 0, 0, none));
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < problems.size(); i++) {
            Problem p = problems.get(i);
            List<String> in = groups.entrySet().stream().filter(g -> g.getValue().matcher(p.question()).find())
                    .map(Map.Entry::getKey).toList();
            SharedWork work = new SharedWork();
            long problemSeed = seedOf(seed, i);
            Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt(p.question())
                    .seed(problemSeed).sharedWork(work).composition(c).build();
            for (Composition c : compositions) {
                BlendResult r;
                try {
                    r = blender.blend(request.apply(c));
                } catch (RemoteException e) {
                    throw new RemoteException("row " + c.name() + ", problem " + (i + 1) + " (" + p.question() + "): "
                            + e.getMessage(), e.retryable(), e);
                }
                boolean right = right(r.answer(), p);
                rows.compute(c.name(),
                        (k, row) -> row.plus(right, r.usage().totalTokens(), r.timings().totalMillis(), in));
                listener.answered(i, p, c.name(), r, right);
            }
            if (pool != null) {
                BlendResult r = blender.blend(request.apply(pool));
                List<Completion> candidates = r.candidates().stream().map(BlendResult.Sampled::candidate).toList();
                long tokens = r.usage().totalTokens();
                double ms = r.timings().totalMillis();
                boolean any = candidates.stream().anyMatch(c -> right(c.text(), p));
                boolean drawn = !candidates.isEmpty() && right(candidates.get(random.nextInt(candidates.size())).text(), p);
                rows.compute("pool:random", (k, row) -> row.plus(drawn, tokens, ms, in));
                rows.compute("pool:oracle", (k, row) -> row.plus(any, tokens, ms, in));
            }
            listener.problemDone(i + 1, problems.size(), new ArrayList<>(rows.values()));
        }
        return new ArrayList<>(rows.values());
    }

    /** The request seed of the {@code i}-th problem: {@code blender run --seed} with it answers as the row did. */
    public static long seedOf(long seed, int i) {
        return seed * 1_000_003L + i;
    }

    private boolean right(String output, Problem p) {
        return checker.accepts(output, p.answers());
    }
}
