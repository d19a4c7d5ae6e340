package dev.blender.runtime.tune;

import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Stage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * The compositions a tune compares: each base composition at the configured settings, then one setting
 * changed at a time (a grid of every combination would multiply the search by each list's length):
 *
 * <ul>
 *   <li>{@code samples} x {@code temperatures}, together: the candidates each generator samples and their
 *       temperature, in every stage that samples candidates (pinned in the composition, so that it runs
 *       the same on any configuration);</li>
 *   <li>{@code fuseTopK}: how many texts a fuse stage reads (and its rank stages order exactly);</li>
 *   <li>{@code orders}: how many orders of its inputs a fuse stage fuses and votes over;</li>
 *   <li>{@code gateThresholds} x both gate rules: where a gate stops (a rule that the composition cannot
 *       read, such as agreement before any sampling, is left out);</li>
 *   <li>{@code among}: a rank stage over the sampling order becomes a vote then a rank of the {@code among}
 *       most voted texts (a judge-weighted vote, at a fraction of the pairs).</li>
 * </ul>
 *
 * Variants are named after their base and what changed ({@code fuse:mix3 n2 t0.8}, {@code fuse:top3 orders3});
 * a variant that equals an earlier composition stage for stage is left out.
 */
public record SearchSpace(List<Integer> samples, List<Float> temperatures, List<Integer> fuseTopK,
                          List<Integer> orders, List<Double> gateThresholds, List<Integer> among) {
    public SearchSpace {
        samples = checked(samples, "samples", v -> v >= 1, ">= 1");
        temperatures = checked(temperatures, "temperatures", v -> v >= 0 && v <= 100, "in [0, 100]");
        fuseTopK = checked(fuseTopK, "fuse top-k", v -> v >= 1, ">= 1");
        orders = checked(orders, "orders", v -> v >= 1, ">= 1");
        gateThresholds = checked(gateThresholds, "gate thresholds", v -> v >= 0 && v <= 1, "in [0, 1]");
        among = checked(among, "among", v -> v >= 2, ">= 2");
    }

    private static <T> List<T> checked(List<T> values, String what, java.util.function.Predicate<T> ok, String rule) {
        Objects.requireNonNull(values, what);
        for (T v : values) {
            if (v == null || !ok.test(v)) {
                throw new IllegalArgumentException("search space: " + what + " must be " + rule + ", was " + v);
            }
        }
        return List.copyOf(values);
    }

    /**
     * The space around a configuration: half and all of its candidates per generator, temperatures 0.2 and
     * 0.8 and its own, fusions of 2 to 4 texts, 1 to 3 orders, gate thresholds 0.3 to 0.9, among 2 to 4.
     */
    public static SearchSpace around(BlenderConfig config) {
        int n = config.candidatesPerModel();
        TreeSet<Integer> samples = new TreeSet<>(List.of(n));
        if (n > 1) {
            samples.add(n / 2);
        }
        TreeSet<Float> temperatures = new TreeSet<>(List.of(0.2f, 0.8f, config.candidateSampler().temperature()));
        return new SearchSpace(List.copyOf(samples), List.copyOf(temperatures), List.of(2, 3, 4), List.of(1, 2, 3),
                List.of(0.3, 0.5, 0.7, 0.9), List.of(2, 3, 4));
    }

    /**
     * What a search starts from when the user names nothing: a {@code member:} composition for each
     * generator, then every built-in composition the configuration can run ({@link Recipe#canRun}), but
     * {@code single} and {@code token-combine}, which the member and {@code token:} rows are.
     */
    public static List<Composition> bases(BlenderConfig config) {
        List<Composition> out = new ArrayList<>();
        config.generatorNames().forEach(g -> out.add(Composition.named("member:" + g)));
        for (String name : Composition.names()) {
            Composition c = Composition.named(name);
            if (!name.equals("single") && !name.equals("token-combine") && Recipe.canRun(config, c)) {
                out.add(c);
            }
        }
        return out;
    }

    /** This space with other candidate counts and temperatures. */
    public SearchSpace withSampling(List<Integer> samples, List<Float> temperatures) {
        return new SearchSpace(samples, temperatures, fuseTopK, orders, gateThresholds, among);
    }

    /**
     * The compositions to compare: every base (its sampling pinned at {@code config}'s candidates and
     * temperature) followed by its variants.
     */
    public List<Composition> compositions(List<Composition> bases, BlenderConfig config) {
        Map<List<Stage>, Composition> out = new LinkedHashMap<>();
        int n = config.candidatesPerModel();
        float t = config.candidateSampler().temperature();
        for (Composition base : bases) {
            Composition pinned = sampling(base, n, t, base.name());
            add(out, pinned);
            if (samples(base)) {
                for (int s : samples) {
                    for (float temp : temperatures) {
                        if (s != n || temp != t) {
                            add(out, sampling(base, s, temp, base.name() + " n" + s + " t" + number(temp)));
                        }
                    }
                }
            }
            if (has(pinned, Stage.Fuse.class)) {
                for (int k : fuseTopK) {
                    if (pinned.stages().stream().allMatch(s -> !(s instanceof Stage.Fuse f)
                            || (f.topK() != null ? f.topK() : config.topK()) == k)) {
                        continue; // what it fuses already
                    }
                    add(out, rename(pinned, " k" + k, s -> switch (s) {
                        case Stage.Fuse f -> new Stage.Fuse(k, f.inputs(), f.orders());
                        case Stage.Rank r when r.topK() != null -> new Stage.Rank(r.aggregation(), Math.max(k, r.topK()),
                                r.by(), r.among());
                        default -> s;
                    }));
                }
                for (int o : orders) {
                    add(out, rename(pinned, " orders" + o, s -> s instanceof Stage.Fuse f
                            ? new Stage.Fuse(f.topK(), f.inputs(), o) : s));
                }
            }
            if (has(pinned, Stage.Gate.class)) {
                for (Stage.GateRule rule : Stage.GateRule.values()) {
                    for (double th : gateThresholds) {
                        if (pinned.stages().stream().allMatch(s -> !(s instanceof Stage.Gate g) || g.rule() == rule
                                && (g.threshold() != null ? g.threshold() : config.cascadeConfidence()) == th)) {
                            continue; // where it stops already
                        }
                        String suffix = " " + (rule == Stage.GateRule.AGREEMENT ? "agree" : "p") + number(th);
                        try {
                            add(out, rename(pinned, suffix, s -> s instanceof Stage.Gate ? new Stage.Gate(rule, th) : s));
                        } catch (IllegalArgumentException unreadable) {
                            // this composition's gate cannot read this rule (e.g. agreement before sampling)
                        }
                    }
                }
            }
            if (rankedBySampling(pinned)) {
                for (int a : among) {
                    add(out, amongVariant(pinned, a));
                }
            }
        }
        return List.copyOf(out.values());
    }

    private static void add(Map<List<Stage>, Composition> out, Composition c) {
        out.putIfAbsent(c.stages(), c);
    }

    /** Whether a stage samples candidates (the sampling settings apply to it). */
    private static boolean samples(Composition c) {
        return c.stages().stream().anyMatch(s -> s instanceof Stage.Sample x && x.sampler() == Stage.Sampler.CANDIDATES);
    }

    private static boolean has(Composition c, Class<? extends Stage> type) {
        return c.stages().stream().anyMatch(type::isInstance);
    }

    /** The composition with every candidate-sampling stage pinned at {@code perModel} and {@code temperature}. */
    static Composition sampling(Composition c, int perModel, float temperature, String name) {
        return new Composition(name, c.stages().stream().map(s -> s instanceof Stage.Sample x
                && x.sampler() == Stage.Sampler.CANDIDATES
                ? new Stage.Sample(x.models(), x.perModel() != null ? x.perModel() : perModel, x.matchPool(), x.sampler(),
                        x.temperature() != null ? x.temperature() : temperature)
                : s).toList());
    }

    private static Composition rename(Composition c, String suffix, UnaryOperator<Stage> change) {
        return new Composition(c.name() + suffix, c.stages().stream().map(change).toList());
    }

    /** A judge rank stage that orders the sampling order (no vote or rank before it). */
    private static boolean rankedBySampling(Composition c) {
        boolean ordered = false;
        for (Stage s : c.stages()) {
            if (s instanceof Stage.Vote || s instanceof Stage.Rank r && r.by() == Stage.Ranker.CONSENSUS) {
                ordered = true;
            }
            if (s instanceof Stage.Rank r && r.by() == Stage.Ranker.JUDGE) {
                return !ordered && r.among() == null;
            }
        }
        return false;
    }

    private static Composition amongVariant(Composition c, int among) {
        List<Stage> stages = new ArrayList<>();
        boolean done = false;
        for (Stage s : c.stages()) {
            if (!done && s instanceof Stage.Rank r && r.by() == Stage.Ranker.JUDGE) {
                stages.add(new Stage.Vote());
                stages.add(new Stage.Rank(r.aggregation(), r.topK(), r.by(), among));
                done = true;
            } else {
                stages.add(s);
            }
        }
        return new Composition(c.name() + " among" + among, stages);
    }

    private static String number(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%s", (float) v);
    }
}
