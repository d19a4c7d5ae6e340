package dev.blender.runtime.pipeline;

import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.Names;
import dev.blender.runtime.combine.CombineMethod;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A strategy written as stages ({@link Stage}): what {@link Blender} runs for every request. The
 * {@link Strategy} constants and the rows of {@code blender eval} are named compositions
 * ({@link #named}); write your own with {@link #builder(String)} or in JSON (see
 * {@link CompositionJson}).
 *
 * <pre>{@code
 * Composition verified = Composition.builder("verified-fusion")
 *         .sample().rank(Aggregation.MAX_LOGITS, 3).fuse(3).verify().build();
 * blender.blend(BlendRequest.builder().prompt("17+62=").composition(verified).build());
 * }</pre>
 *
 * <p>Immutable, so thread-safe; its {@link Builder} is for one thread.
 *
 * @param name   how results and tables name it
 * @param stages in the order they run
 */
public record Composition(String name, List<Stage> stages) {
    public Composition {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("a composition needs a name");
        }
        stages = List.copyOf(Objects.requireNonNull(stages, "stages"));
        checkOrder(name, stages);
    }

    /** Stages that need something an earlier stage made: candidates to order, an answer to check. */
    private static void checkOrder(String name, List<Stage> stages) {
        if (stages.isEmpty()) {
            throw new IllegalArgumentException("composition " + name + " has no stages");
        }
        boolean candidates = false;
        boolean answer = false;
        boolean fused = false;
        boolean routed = false;
        for (Stage s : stages) {
            String where = "composition " + name + ": " + s.id();
            switch (s) {
                case Stage.Route x -> {
                    // it chooses who samples and mixes: after them it would choose for nothing
                    if (answer) {
                        throw new IllegalArgumentException(where + " must come before every sample and mix stage"
                                + " (it chooses the generators they use)");
                    }
                    if (routed) {
                        throw new IllegalArgumentException(where + ": a composition routes once");
                    }
                    routed = true;
                }
                case Stage.Sample x -> {
                    candidates = true;
                    answer = true;
                }
                case Stage.Vote x -> need(candidates, where, "a sample stage before it");
                case Stage.Rank x -> need(candidates, where, "a sample stage before it");
                case Stage.Mix x -> answer = true;
                case Stage.Fuse x -> {
                    need(x.inputs() == Stage.FuseInputs.TOP ? candidates : answer, where,
                            x.inputs() == Stage.FuseInputs.TOP ? "a sample stage before it" : "an answer before it");
                    answer = true;
                    fused = true;
                }
                case Stage.Verify x -> {
                    need(candidates && answer, where, "candidates and an answer before it");
                }
                case Stage.Refine x -> need(fused, where, "a fuse stage before it");
                case Stage.Solve x -> need(answer, where, "candidates or an answer before it");
                case Stage.Pick x -> need(answer, where, "an answer before it");
                case Stage.Gate x -> {
                    need(answer, where, "an answer before it");
                    if (x.rule() == Stage.GateRule.AGREEMENT) {
                        need(candidates, where, "a sample stage before it (agreement counts candidates)");
                    }
                }
            }
        }
        if (!answer) {
            throw new IllegalArgumentException("composition " + name + " never produces an answer: add a sample or mix stage");
        }
        if (stages.getLast() instanceof Stage.Gate) {
            throw new IllegalArgumentException("composition " + name + " ends with a gate: add the stages it escalates to");
        }
    }

    private static void need(boolean have, String where, String what) {
        if (!have) {
            throw new IllegalArgumentException(where + " needs " + what);
        }
    }

    /** Whether a stage ranks, verifies or solves with the judge (or reranker); without one they vote or pass. */
    public boolean needsRanker() {
        return stages.stream().anyMatch(s -> s instanceof Stage.Rank r && r.by() == Stage.Ranker.JUDGE
                || s instanceof Stage.Verify || s instanceof Stage.Solve);
    }

    /** Whether a stage samples the request's own generator ({@code first}): single, self-blend, cascade. */
    public boolean samplesFirst() {
        return stages.stream().anyMatch(s -> s instanceof Stage.Sample x
                && x.models().stream().anyMatch(m -> m.equalsIgnoreCase("first")));
    }

    /** Whether a stage fuses; without a fuser it passes. */
    public boolean needsFuser() {
        return stages.stream().anyMatch(s -> s instanceof Stage.Fuse || s instanceof Stage.Refine);
    }

    boolean usesMix() {
        return stages.stream().anyMatch(s -> s instanceof Stage.Mix);
    }

    /** The stages as one line: {@code sample > rank(max-logits, 3) > fuse(3)}. */
    @Override
    public String toString() {
        return name + ": " + String.join(" > ", stages.stream().map(CompositionJson::describe).toList());
    }

    /** A fresh builder. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Adds stages in order; {@link #build()} checks the order. */
    public static final class Builder {
        private final String name;
        private final List<Stage> stages = new ArrayList<>();

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        public Builder stage(Stage s) {
            stages.add(Objects.requireNonNull(s, "stage"));
            return this;
        }

        /** Every generator, the configured number of candidates each. */
        public Builder sample() {
            return stage(Stage.Sample.all());
        }

        /** Chooses the generators of the later stages (one, for similarity and confidence). */
        public Builder route(Stage.RouteRule rule) {
            return stage(new Stage.Route(rule));
        }

        /** Chooses the {@code pick} best generators by similarity or confidence. */
        public Builder route(Stage.RouteRule rule, int pick) {
            return stage(new Stage.Route(rule, pick));
        }

        /** Every generator's answer with the answer sampler (greedy by default): one candidate each. */
        public Builder sampleAnswers() {
            return stage(new Stage.Sample(List.of(), 1, false, Stage.Sampler.ANSWER, null));
        }

        public Builder vote() {
            return stage(new Stage.Vote());
        }

        /** Ranks with the blender's aggregation. */
        public Builder rank() {
            return stage(new Stage.Rank(null, null, Stage.Ranker.JUDGE));
        }

        public Builder rank(Aggregation aggregation, int topK) {
            return stage(new Stage.Rank(aggregation, topK, Stage.Ranker.JUDGE));
        }

        public Builder mix(CombineMethod method) {
            return stage(new Stage.Mix(method, null, null));
        }

        /** Fuses the top k of the order. */
        public Builder fuse(int topK) {
            return stage(new Stage.Fuse(topK, Stage.FuseInputs.TOP));
        }

        public Builder verify() {
            return stage(new Stage.Verify());
        }

        public Builder refine(int rounds) {
            return stage(new Stage.Refine(rounds, null));
        }

        public Builder gate(Stage.GateRule rule, double threshold) {
            return stage(new Stage.Gate(rule, threshold));
        }

        public Composition build() {
            return new Composition(name, stages);
        }
    }

    // ---- the named compositions ----

    private static final Stage.Fuse FUSE = new Stage.Fuse(null, Stage.FuseInputs.TOP);
    private static final Stage.Fuse FUSE3_ANSWER_FIRST = new Stage.Fuse(3, Stage.FuseInputs.ANSWER_FIRST);
    private static final Stage.Sample SAMPLE = Stage.Sample.all();
    private static final Stage.Rank RANK = new Stage.Rank(null, null, Stage.Ranker.JUDGE);
    private static final Stage.Mix LOG_LINEAR = new Stage.Mix(CombineMethod.LOG_LINEAR, null, null);
    private static final Stage.Sample ANSWERS = new Stage.Sample(List.of(), 1, false, Stage.Sampler.ANSWER, null);
    private static final Stage.Solve SOLVE = new Stage.Solve();

    private static final Map<String, Composition> NAMED = new LinkedHashMap<>();

    private static void name(String name, Stage... stages) {
        NAMED.put(name, new Composition(name, List.of(stages)));
    }

    static {
        // the strategies
        name("single", Stage.Sample.answer("first"));
        name("self-blend", new Stage.Sample(List.of("first"), null, true, Stage.Sampler.CANDIDATES, null), RANK, FUSE);
        name("full-blend", SAMPLE, RANK, FUSE);
        name("token-combine", new Stage.Mix(null, null, null));
        name("cascade", Stage.Sample.answer("first"), new Stage.Gate(Stage.GateRule.TOKEN_PROBABILITY, null), SAMPLE,
                RANK, FUSE);
        // what blender eval compares them with
        name("majority", SAMPLE, new Stage.Vote());
        name("self-moa", new Stage.Sample(List.of("first"), null, true, Stage.Sampler.CANDIDATES, null), new Stage.Vote());
        name("rank:bubble", SAMPLE, new Stage.Rank(Aggregation.BUBBLE, 1, Stage.Ranker.JUDGE));
        name("rank:maxlogits", SAMPLE, new Stage.Rank(Aggregation.MAX_LOGITS, 1, Stage.Ranker.JUDGE));
        name("rank:maxwins", SAMPLE, new Stage.Rank(Aggregation.MAX_WINS, 1, Stage.Ranker.JUDGE));
        name("rank:embedding", SAMPLE, new Stage.Rank(null, 1, Stage.Ranker.CONSENSUS));
        name("fuse:top3", SAMPLE, new Stage.Rank(Aggregation.MAX_LOGITS, 3, Stage.Ranker.JUDGE), new Stage.Fuse(3, Stage.FuseInputs.TOP));
        name("fuse:frequent3", SAMPLE, new Stage.Vote(), new Stage.Fuse(3, Stage.FuseInputs.TOP));
        name("token:linear", new Stage.Mix(CombineMethod.LINEAR, null, null));
        name("token:loglinear", LOG_LINEAR);
        name("token:pack", new Stage.Mix(CombineMethod.LOG_LINEAR, 1f, null));
        name("token:gated", new Stage.Mix(CombineMethod.LOG_LINEAR, null, 0.5f));
        // the log-linear answer fused with the two most frequent samples
        name("fuse:mix3", SAMPLE, new Stage.Vote(), LOG_LINEAR, FUSE3_ANSWER_FIRST);
        // ... and the judge then keeps the most frequent sample instead where it prefers it to the fusion
        name("fuse:mix3-verified", SAMPLE, new Stage.Vote(), LOG_LINEAR, FUSE3_ANSWER_FIRST, new Stage.Verify());
        // keeps a confident log-linear answer (least likely token above 0.5, a priori) and fuses the rest
        name("cascade:mix3", LOG_LINEAR, new Stage.Gate(Stage.GateRule.TOKEN_PROBABILITY, 0.5), SAMPLE,
                new Stage.Vote(), FUSE3_ANSWER_FIRST);
        // fuse:mix3, then the judge works the task out from the fusion and the most voted sample; the more
        // confident of fusion and solution answers (docs/compositions-tuned.md)
        name("fuse:mix3-solved", SAMPLE, new Stage.Vote(), LOG_LINEAR, FUSE3_ANSWER_FIRST, SOLVE, new Stage.Pick(2));
        // the judge solves from the first generator's answer and stops where it is sure (its least likely token
        // at least 0.8, chosen on the first half of dev); else every generator answers, the judge solves again,
        // the fuser reads that solution first, and the pick among the three answers
        name("cascade:solve", Stage.Sample.answer("first"), SOLVE, new Stage.Gate(Stage.GateRule.TOKEN_PROBABILITY, 0.8),
                ANSWERS, SOLVE, FUSE3_ANSWER_FIRST, new Stage.Pick(3));
    }

    /** The built-in names, in the order {@code blender eval} prints them. */
    public static List<String> names() {
        return List.copyOf(NAMED.keySet());
    }

    /**
     * A built-in composition by name in any spelling ({@code full-blend}, {@code FULL_BLEND},
     * {@code full_blend}), or {@code member:<generator>}: that generator's greedy answer.
     *
     * @throws IllegalArgumentException an unknown name; the message lists the known ones
     */
    public static Composition named(String name) {
        Objects.requireNonNull(name, "name");
        String member = name.strip();
        int colon = member.indexOf(':');
        if (colon > 0 && Names.same(member.substring(0, colon), "member") && colon + 1 < member.length()) {
            return new Composition("member:" + member.substring(colon + 1), List.of(Stage.Sample.answer(member.substring(colon + 1))));
        }
        return Names.find(NAMED.keySet(), name).map(NAMED::get).orElseThrow(() -> new IllegalArgumentException(
                "unknown strategy '" + name + "'; one of " + String.join(", ", names())
                        + ", member:<generator>, or a composition in JSON"));
    }
}
