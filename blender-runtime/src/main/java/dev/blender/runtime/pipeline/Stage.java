package dev.blender.runtime.pipeline;

import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One step of a {@link Composition}. A blend keeps a pool of sampled candidates, an order of their
 * distinct texts (best first) and an answer; each stage reads and changes them:
 *
 * <ul>
 *   <li>{@link Route} chooses which generators the later sample and mix stages use;</li>
 *   <li>{@link Sample} adds candidates (the order: first appearance);</li>
 *   <li>{@link Vote} orders the distinct texts by how many candidates wrote each;</li>
 *   <li>{@link Rank} orders them by the judge's (or reranker's) pairwise scores;</li>
 *   <li>{@link Mix} writes an answer by mixing the generators token by token;</li>
 *   <li>{@link Fuse} writes an answer from the top of the order (and the current answer);</li>
 *   <li>{@link Verify} lets the judge choose between the answer and the top of the order;</li>
 *   <li>{@link Refine} fuses again with the answer among the inputs, until it stops changing;</li>
 *   <li>{@link Gate} ends the blend when a stated confidence rule holds (a cascade escalates past it);</li>
 *   <li>{@link Solve} lets the judge work the task out, reading the answer and the next text of the order;</li>
 *   <li>{@link Pick} chooses among the answers earlier stages wrote.</li>
 * </ul>
 *
 * The answer is the last one a stage wrote ({@code mix}, {@code fuse}, {@code verify}, {@code refine},
 * {@code solve}, {@code pick});
 * until one does, it is the top of the order. Settings left null take the request's value, else the
 * blender's.
 */
public sealed interface Stage {

    /** The stage's name as compositions write it ({@code sample}, {@code rank}, ...). */
    String id();

    /** A count a stage was given (null: not given) must be at least 1; the message names stage and setting. */
    private static void atLeastOne(String stage, String setting, Integer value) {
        if (value != null && value < 1) {
            throw new IllegalArgumentException(stage + ": " + setting + " must be >= 1, was " + value);
        }
    }

    /** How a {@link Sample} stage decodes. */
    enum Sampler {
        /** The blender's candidate sampler (temperature 0.8 by default): diverse candidates. */
        CANDIDATES,
        /** The blender's answer sampler (greedy by default): a model's own best answer. */
        ANSWER
    }

    /**
     * Candidates from generators.
     *
     * @param models      generator names (file names with or without {@code .gguf}; {@code first} = the
     *                    request's generator, else the first configured); empty = every generator
     * @param perModel    candidates each named model samples; null = one with the answer sampler, else the
     *                    request's or blender's {@code candidatesPerModel}
     * @param matchPool   the named models together sample as many candidates as every generator would with
     *                    {@code perModel} each (Self-MoA: one model's samples against the mixed pool, at equal cost)
     * @param sampler     which of the blender's samplers; the request's temperature and top-p apply to either
     * @param temperature replaces the sampler's temperature (e.g. a hotter second round for diversity); null = keep
     */
    record Sample(List<String> models, Integer perModel, boolean matchPool, Sampler sampler, Float temperature)
            implements Stage {
        public Sample {
            models = List.copyOf(Objects.requireNonNull(models, "models"));
            Objects.requireNonNull(sampler, "sample: sampler");
            atLeastOne("sample", "perModel", perModel);
            if (temperature != null && !(temperature >= 0 && temperature <= 100)) {
                throw new IllegalArgumentException("sample: temperature must be in [0, 100], was " + temperature);
            }
        }

        /** Every generator, the configured number each, the candidate sampler. */
        public static Sample all() {
            return new Sample(List.of(), null, false, Sampler.CANDIDATES, null);
        }

        /** One model's answer, decoded as answers are (greedy by default). */
        public static Sample answer(String model) {
            return new Sample(List.of(model), 1, false, Sampler.ANSWER, null);
        }

        @Override
        public String id() {
            return "sample";
        }
    }

    /** Orders the distinct candidate texts by their count, most frequent first (ties: first seen first). */
    record Vote() implements Stage {
        @Override
        public String id() {
            return "vote";
        }
    }

    /** What a {@link Rank} stage ranks with. */
    enum Ranker {
        /** The blender's judge (pairwise) or reranker; without either, a vote orders the candidates. */
        JUDGE,
        /**
         * Agreement between the candidates' sentence embeddings (all-MiniLM-L6-v2, in-process), minimum
         * Bayes risk style: no ranking model needed; a repeated answer supports itself.
         */
        CONSENSUS
    }

    /**
     * Orders the distinct candidate texts with the judge or the reranker, or by consensus. Over the time
     * budget, a vote orders them instead.
     *
     * @param aggregation how pair scores become an order; null = the blender's (unused by consensus)
     * @param topK        how many places must be exact (bubble stops after them); null = the request's or
     *                    blender's {@code topK}
     * @param by          the ranker
     * @param among       rank only the first this many of the current order (e.g. the most voted: a
     *                    judge-weighted vote, at a fraction of the pairs); the rest follow in their order;
     *                    null = all
     */
    record Rank(Aggregation aggregation, Integer topK, Ranker by, Integer among) implements Stage {
        public Rank {
            Objects.requireNonNull(by, "rank: by");
            if (among != null && among < 2) {
                throw new IllegalArgumentException("rank: among must be >= 2 (one text is ordered already), was "
                        + among);
            }
            atLeastOne("rank", "topK", topK);
        }

        /** Ranks every text. */
        public Rank(Aggregation aggregation, Integer topK, Ranker by) {
            this(aggregation, topK, by, null);
        }

        @Override
        public String id() {
            return "rank";
        }
    }

    /**
     * Per-token mixing of every generator (greedy unless the answer sampler says otherwise); its text
     * becomes the answer.
     *
     * @param method the combination; null = the blender's ({@code combine}, else log-linear, equal weights)
     * @param pack   weights from each member's perplexity of the prompt at this temperature (PackLLM); null = off
     * @param solo   the first generator alone at the steps where its top token is at least this likely
     *               (mixing only where it is unsure); null = always mix
     * @param adapt  how the weights learn from the text as it goes (linear and log-linear):
     *               {@link Adaptation#BAYES} or {@link Adaptation#LEARNED}, from the combination's weights as
     *               the prior; null = the combination's own (fixed unless the blender's {@code combine} says)
     * @param rate   the adaptation's rate; null = its default
     */
    record Mix(CombineMethod method, Float pack, Float solo, Adaptation adapt, Float rate) implements Stage {
        public Mix {
            if (pack != null && !(pack > 0)) {
                throw new IllegalArgumentException("mix: pack temperature must be > 0, was " + pack);
            }
            if (solo != null && !(solo > 0 && solo <= 1)) {
                throw new IllegalArgumentException("mix: solo must be in (0, 1], was " + solo);
            }
            if (rate != null && (adapt == null || adapt == Adaptation.FIXED)) {
                throw new IllegalArgumentException("mix: rate is the rate of adapt (bayes or learned), which is not set");
            }
            if (adapt != null && adapt != Adaptation.FIXED && method == CombineMethod.NEGATIVE_EVIDENCE) {
                throw new IllegalArgumentException("mix: adapt is for linear and log-linear mixing, not negative"
                        + " evidence, whose members play fixed roles");
            }
            if (adapt != null) {
                // the combination checks the rate's range for its adaptation
                CombineOptions.equal(CombineMethod.LINEAR, 1).adapting(adapt, rate);
            }
        }

        /** A mix whose weights are the combination's own. */
        public Mix(CombineMethod method, Float pack, Float solo) {
            this(method, pack, solo, null, null);
        }

        /** The combination with this stage's adaptation, if it sets one. */
        public CombineOptions adapted(CombineOptions options) {
            return adapt == null ? options : options.adapting(adapt, rate);
        }

        @Override
        public String id() {
            return "mix";
        }
    }

    /** What the fuser reads. */
    enum FuseInputs {
        /** The top k of the order. */
        TOP,
        /** The current answer, then the top of the order without it: k in all. */
        ANSWER_FIRST
    }

    /**
     * The fuser writes the answer from k candidate texts; with fewer distinct ones, the first repeats
     * (fusers are trained on a fixed count). Over the time budget it is skipped.
     *
     * @param topK   candidates read; null = the request's or blender's {@code topK}
     * @param inputs which texts
     * @param orders how many orders of the inputs to fuse (the given order first, then the other
     *               permutations); above 1 the answer is the fused text written most often (ties: the
     *               earlier order). A fuser reads its first input most closely; voting over orders takes
     *               that bias out.
     */
    record Fuse(Integer topK, FuseInputs inputs, int orders) implements Stage {
        public Fuse {
            atLeastOne("fuse", "topK", topK);
            Objects.requireNonNull(inputs, "fuse: inputs");
            atLeastOne("fuse", "orders", orders);
        }

        /** One fusion of the inputs in their order. */
        public Fuse(Integer topK, FuseInputs inputs) {
            this(topK, inputs, 1);
        }

        @Override
        public String id() {
            return "fuse";
        }
    }

    /**
     * The judge compares the answer with the top of the order (both orders, position bias cancelled) and
     * keeps the one it prefers: a fuser can break a correct top candidate. Nothing happens when they are
     * the same text.
     */
    record Verify() implements Stage {
        @Override
        public String id() {
            return "verify";
        }
    }

    /**
     * Up to {@code rounds} more fusions, each reading the previous answer first and then the top of the
     * order (a Mixture-of-Agents layer over one fuser); stops early once an answer repeats.
     */
    record Refine(int rounds, Integer topK) implements Stage {
        public Refine {
            atLeastOne("refine", "rounds", rounds);
            atLeastOne("refine", "topK", topK);
        }

        @Override
        public String id() {
            return "refine";
        }
    }

    /** What a {@link Gate} measures. */
    enum GateRule {
        /** The answer's least likely token, as its model generated it (1 for an answer nobody generated). */
        TOKEN_PROBABILITY,
        /** The share of sampled candidates whose text is the answer. */
        AGREEMENT
    }

    /**
     * Ends the blend with the current answer when {@code rule} measures at least {@code threshold};
     * otherwise the blend escalates to the stages after it.
     *
     * @param threshold null = the blender's {@code cascadeConfidence}
     */
    record Gate(GateRule rule, Double threshold) implements Stage {
        public Gate {
            Objects.requireNonNull(rule, "gate: rule");
            if (threshold != null && !(threshold >= 0 && threshold <= 1)) {
                throw new IllegalArgumentException("gate: threshold must be in [0, 1], was " + threshold);
            }
        }

        @Override
        public String id() {
            return "gate";
        }
    }

    /**
     * The judge works the task out itself: it reads the answer and the first other text of the order as
     * the two answers of a comparison (the answer twice when there is no other), and the rationale it writes
     * before its verdict becomes the answer. For a judge trained to work the result out before it compares
     * (the arith judge); a judge template without a rationale is refused. Without a judge it passes.
     */
    record Solve() implements Stage {
        @Override
        public String id() {
            return "solve";
        }
    }

    /**
     * The answer becomes one of the answers earlier stages wrote (mix, fuse, verify, refine, solve): the
     * text written most often among the last {@code last}, ties to the writer whose least likely token was
     * the most likely (several fusions voted; the more confident of a fusion and the judge's solution).
     *
     * @param last how many of the latest written answers to choose among; null = all
     */
    record Pick(Integer last) implements Stage {
        public Pick {
            if (last != null && last < 2) {
                throw new IllegalArgumentException("pick: last must be >= 2 (one answer is chosen already), was " + last);
            }
        }

        @Override
        public String id() {
            return "pick";
        }
    }

    /**
     * How a {@link Route} stage chooses generators.
     */
    sealed interface RouteRule {
        /** The rule's name as compositions write it ({@code rule}, {@code similarity}, {@code confidence}). */
        String id();

        /**
         * The first case whose regular expression is found in the user's prompt names the generators;
         * with no case matching, the request is not routed (every generator, as without the stage).
         */
        record Cases(List<RouteCase> cases) implements RouteRule {
            public Cases {
                cases = List.copyOf(Objects.requireNonNull(cases, "route: cases"));
                if (cases.isEmpty()) {
                    throw new IllegalArgumentException("route: rule needs at least one case");
                }
                for (int i = 0; i < cases.size() - 1; i++) {
                    if (cases.get(i).when() == null) {
                        // a default anywhere but last would make the cases after it unreachable
                        throw new IllegalArgumentException("route: only the last case may omit when (the default)");
                    }
                }
            }

            @Override
            public String id() {
                return "rule";
            }
        }

        /**
         * The generators whose example prompts are, on average (the mean cosine similarity over the
         * examples of all-MiniLM-L6-v2 sentence embeddings), most like the user's prompt. Only the
         * generators named here are candidates.
         *
         * @param examples generator name to its example prompts, in the order written
         */
        record Similarity(Map<String, List<String>> examples) implements RouteRule {
            public Similarity {
                Objects.requireNonNull(examples, "route: examples");
                if (examples.isEmpty()) {
                    throw new IllegalArgumentException("route: similarity needs examples for at least one generator");
                }
                Map<String, List<String>> copy = new LinkedHashMap<>();
                examples.forEach((model, prompts) -> {
                    if (prompts == null || prompts.isEmpty()) {
                        throw new IllegalArgumentException("route: generator " + model + " has no examples");
                    }
                    copy.put(model, List.copyOf(prompts));
                });
                examples = Collections.unmodifiableMap(copy);
            }

            @Override
            public String id() {
                return "similarity";
            }
        }

        /**
         * Every generator answers the first {@code tokens} tokens greedily; the ones with the highest mean
         * log-probability of them are chosen (a generator that ends at once has said nothing and ranks
         * last). Counted in the usage as stage {@code routing}.
         *
         * @param tokens null = 2
         */
        record Confidence(Integer tokens) implements RouteRule {
            public Confidence {
                atLeastOne("route", "tokens", tokens);
            }

            /** The tokens each generator answers when none are given. */
            public static final int DEFAULT_TOKENS = 2;

            public int tokensOrDefault() {
                return tokens != null ? tokens : DEFAULT_TOKENS;
            }

            @Override
            public String id() {
                return "confidence";
            }
        }
    }

    /**
     * One case of a {@link RouteRule.Cases} rule.
     *
     * @param when   a Java regular expression searched for (not matched whole) in the user's prompt; null =
     *               the default, which always applies
     * @param models generator names, as in {@link Sample#models()}
     */
    record RouteCase(String when, List<String> models) {
        public RouteCase {
            models = List.copyOf(Objects.requireNonNull(models, "route: models"));
            if (models.isEmpty()) {
                throw new IllegalArgumentException("route: case " + (when == null ? "(default)" : "'" + when + "'")
                        + " names no models");
            }
            if (when != null) {
                try {
                    Pattern.compile(when);
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException("route: when '" + when + "' is not a regular expression: "
                            + e.getDescription() + " near index " + e.getIndex());
                }
            }
        }

        /** Whether this case applies to the prompt. */
        public boolean matches(String prompt) {
            return when == null || Pattern.compile(when).matcher(prompt).find();
        }
    }

    /**
     * Chooses generators for the request before anything is sampled: after it, a {@link Sample} stage
     * that names no models samples the chosen ones (named models still win), and a {@link Mix} mixes them
     * (one chosen: that generator's answer, decoded with the answer sampler, greedy by default). It must
     * come before every sample and mix stage. The chosen generators are in {@link BlendResult#routed()};
     * its time counts as sampling.
     *
     * @param rule how to choose
     * @param pick how many generators {@code similarity} and {@code confidence} choose (the best first);
     *             null = 1; a rule's case names its own
     */
    record Route(RouteRule rule, Integer pick) implements Stage {
        public Route {
            Objects.requireNonNull(rule, "route: rule");
            atLeastOne("route", "pick", pick);
            if (pick != null && rule instanceof RouteRule.Cases) {
                throw new IllegalArgumentException("route: pick applies to similarity and confidence; a rule's "
                        + "case names its models");
            }
        }

        /** A route with the rule's default pick. */
        public Route(RouteRule rule) {
            this(rule, null);
        }

        public int pickOrDefault() {
            return pick != null ? pick : 1;
        }

        @Override
        public String id() {
            return "route";
        }
    }
}
