package dev.blender.runtime.tune;

import dev.blender.runtime.eval.Accuracy;
import dev.blender.runtime.eval.Evaluation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The accuracy-cost Pareto frontier of compositions measured on the same problems: the compositions no
 * other one beats on both, i.e. none is at least as accurate for at most the cost and strictly better
 * on one of them. Of points equal on both, the first given stands for them.
 */
public final class Frontier {
    private Frontier() {}

    /**
     * One composition's figures on a set of problems.
     *
     * @param tokens tokens per problem
     * @param millis wall milliseconds per problem
     */
    public record Point(String name, Accuracy accuracy, double tokens, double millis) {
        public Point {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(accuracy, "accuracy");
        }

        /** An eval row's figures. */
        public static Point of(Evaluation.Row row) {
            return new Point(row.method(), row.accuracy(), row.tokensPerProblem(), row.millisPerProblem());
        }
    }

    /** The frontier's points by increasing cost (and so increasing accuracy). */
    public static List<Point> of(List<Point> points, Cost cost) {
        List<Point> out = new ArrayList<>();
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            boolean beaten = false;
            for (int j = 0; j < points.size() && !beaten; j++) {
                Point q = points.get(j);
                double qa = q.accuracy().value();
                double pa = p.accuracy().value();
                double qc = cost.of(q);
                double pc = cost.of(p);
                boolean same = qa == pa && qc == pc;
                beaten = j != i && (same ? j < i : qa >= pa && qc <= pc);
            }
            if (!beaten) {
                out.add(p);
            }
        }
        out.sort(Comparator.comparingDouble(cost::of));
        return out;
    }

    /**
     * A limit on one cost per problem; {@link #choose} takes the most accurate point within it.
     *
     * @param cost  what is limited
     * @param limit the most a problem may cost; null = no limit
     */
    public record Budget(Cost cost, Double limit) {
        public Budget {
            Objects.requireNonNull(cost, "cost");
            if (limit != null && !(limit > 0)) {
                throw new IllegalArgumentException("budget of " + cost.label() + " must be > 0, was " + limit);
            }
        }

        /** No limit: the most accurate point, the cheaper in tokens among equals. */
        public static Budget none() {
            return new Budget(Cost.TOKENS, null);
        }

        /**
         * The most accurate point within the budget; of equally accurate ones the cheaper in this cost,
         * then the first given.
         *
         * @throws IllegalArgumentException no point fits (the message gives the cheapest)
         */
        public Point choose(List<Point> points) {
            if (points.isEmpty()) {
                throw new IllegalArgumentException("nothing to choose from: no compositions were measured");
            }
            Point best = null;
            for (Point p : points) {
                if (limit != null && cost.of(p) > limit) {
                    continue;
                }
                if (best == null || p.accuracy().value() > best.accuracy().value()
                        || p.accuracy().value() == best.accuracy().value() && cost.of(p) < cost.of(best)) {
                    best = p;
                }
            }
            if (best == null) {
                Point cheapest = points.stream().min(Comparator.comparingDouble(cost::of)).orElseThrow();
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                        "no composition fits the budget of %s %s; the cheapest, %s, costs %.1f", fmt(limit), cost.label(),
                        cheapest.name(), cost.of(cheapest)));
            }
            return best;
        }

        @Override
        public String toString() {
            return limit == null ? "none" : fmt(limit) + " " + cost.label();
        }

        private static String fmt(double d) {
            return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
        }
    }
}
