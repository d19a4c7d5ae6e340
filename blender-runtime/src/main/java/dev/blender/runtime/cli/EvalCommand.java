package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.Rankings;
import dev.blender.pairranker.embedding.EmbeddingConsensusScorer;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import dev.blender.runtime.eval.Accuracy;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.Votes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code blender eval}: every method on the same problems and the same sampled candidates, one table
 * of accuracy, 95% interval, tokens decoded (all models, all stages) and time per problem.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measures whether the blend beats its best member on problems with checkable answers.",
            "Built-in recipe arith: members answerer-a and answerer-b, judge.gguf, fuser.gguf, models in",
            "shared/models/arith, problems shared/data/arith/dev.jsonl. A recipe file (JSON) evaluates your own models."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--recipe", defaultValue = "arith", paramLabel = "NAME|FILE.json",
            description = "built-in recipe name (arith) or a recipe file (default: ${DEFAULT-VALUE})")
    String recipeName;

    @Option(names = "--models", paramLabel = "DIR",
            description = "folder the recipe's model paths are relative to (default: the recipe file's folder;"
                    + " shared/models/arith for the built-in recipe)")
    Path modelDir;

    @Option(names = "--problems", paramLabel = "JSONL", description = "{question, answer} lines (default for arith:"
            + " shared/data/arith/dev.jsonl)")
    Path problems;

    @Option(names = "--checker", description = "override the recipe's answer checker: exact, gsm8k, nq-open")
    String checkerName;

    @Option(names = "--limit", defaultValue = "500", description = "problems (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = {"-n", "--samples"}, defaultValue = "4", description = "samples per member (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--temperature", defaultValue = "0.8", description = "sampling temperature (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(names = "--json", paramLabel = "OUT.json", description = "also write the table as JSON")
    Path json;

    /**
     * The cascade keeps the log-linear answer when its least likely token was more likely than not;
     * chosen a priori, not tuned on the problems it is measured on.
     */
    static final double CASCADE_CONFIDENCE = 0.5;

    /** token:gated uses the first member alone where its top token is more likely than not (a priori). */
    static final double GATE = 0.5;

    /** One method's tally. */
    private static final class Row {
        final String method;
        int correct;
        long tokens;
        double millis;

        Row(String method) {
            this.method = method;
        }

        void add(boolean right, long tokenCount, double ms) {
            correct += right ? 1 : 0;
            tokens += tokenCount;
            millis += ms;
        }
    }

    /** What a stage cost: tokens decoded and wall time. */
    private record Cost(long tokens, double millis) {
        Cost plus(Cost o) {
            return new Cost(tokens + o.tokens, millis + o.millis);
        }
    }

    @Override
    public Integer call() throws IOException {
        if (samples < 1) {
            throw new IllegalArgumentException("--samples must be >= 1, was " + samples);
        }
        boolean builtIn = !recipeName.endsWith(".json");
        Recipe recipe = builtIn ? Recipe.builtIn(recipeName) : Recipe.load(Path.of(recipeName));
        Path base = modelDir != null ? modelDir : builtIn ? SharedData.resolve("models/" + recipeName).orElseThrow(() ->
                new IllegalArgumentException("shared/models/" + recipeName + " not found; pass --models DIR"))
                : Path.of(recipeName).toAbsolutePath().getParent();
        Path file = problems != null ? problems : SharedData.resolve("data/" + recipeName + "/dev.jsonl")
                .filter(p -> builtIn).orElseThrow(() -> new IllegalArgumentException("pass --problems FILE.jsonl"));
        AnswerChecker checker = checkerName != null ? AnswerChecker.named(checkerName) : recipe.answerChecker();
        List<Problem> list = Problem.readJsonl(file, limit);
        if (list.isEmpty()) {
            throw new IllegalArgumentException("no problems in " + file);
        }
        int k = recipe.members().size();
        int maxTokens = recipe.maxTokens();
        List<LlamaModel> models = new ArrayList<>();
        try {
            List<LlamaContext> greedy = new ArrayList<>();
            List<LlamaContext> sampling = new ArrayList<>();
            List<LlamaContext> mixing = new ArrayList<>();
            int perSequence = recipe.contextSize();
            for (Recipe.Member member : recipe.members()) {
                LlamaModel m = LlamaModel.load(Recipe.resolve(base, member.path()));
                models.add(m);
                int cells = perSequence > 0 ? perSequence : Math.min(4096, m.trainingContextLength());
                greedy.add(m.newContext(ContextOptions.defaults().withContextSize(cells)));
                int n = samples * k;
                sampling.add(m.newContext(ContextOptions.defaults().withContextSize(cells + n * (maxTokens + 1))
                        .withMaxSequences(n)));
                mixing.add(m.newContext(ContextOptions.defaults().withContextSize(cells)));
            }
            LmJudge lm = null;
            if (recipe.judge() != null) {
                LlamaModel jm = LlamaModel.load(Recipe.resolve(base, recipe.judge().path()));
                models.add(jm);
                lm = new LmJudge(jm.newContext(ContextOptions.defaults().withContextSize(4096).withMaxSequences(64)),
                        recipe.judge().template());
            }
            GenFuser fuser = null;
            if (recipe.fuser() != null) {
                LlamaModel fm = LlamaModel.load(Recipe.resolve(base, recipe.fuser().path()));
                models.add(fm);
                int cells = perSequence > 0 ? perSequence : Math.min(4096, fm.trainingContextLength());
                fuser = new GenFuser(fm.newContext(ContextOptions.defaults().withContextSize(cells)),
                        recipe.fuser().template());
            }
            MixedGenerator logLinear = null;
            MixedGenerator linear = null;
            if (k >= 2) {
                logLinear = new MixedGenerator(mixing, CombineOptions.equal(CombineMethod.LOG_LINEAR, k),
                        VocabAlignment.Policy.ALIGN_BY_TEXT);
                linear = new MixedGenerator(mixing, CombineOptions.equal(CombineMethod.LINEAR, k),
                        VocabAlignment.Policy.ALIGN_BY_TEXT);
            }

            Map<String, Row> rows = new LinkedHashMap<>();
            List<String> ids = new ArrayList<>();
            recipe.members().forEach(m -> ids.add("member:" + m.name()));
            ids.addAll(List.of("random", "majority", "self-moa", "oracle"));
            if (lm != null) {
                ids.addAll(List.of("rank:bubble", "rank:maxlogits", "rank:maxwins"));
            }
            ids.add("rank:embedding");
            if (fuser != null && lm != null) {
                ids.add("fuse:top3");
            }
            if (fuser != null) {
                ids.add("fuse:frequent3");
            }
            if (k >= 2) {
                ids.addAll(List.of("token:linear", "token:loglinear", "token:pack", "token:gated"));
                if (fuser != null) {
                    ids.addAll(List.of("fuse:mix3", "cascade"));
                }
            }
            ids.forEach(id -> rows.put(id, new Row(id)));

            embeddings = new EmbeddingConsensusScorer();
            SplittableRandom random = new SplittableRandom(seed);
            SamplerOptions sampler = SamplerOptions.defaults().withTemperature(temperature).withTopK(0).withTopP(1f)
                    .withMinP(0f);
            int escalated = 0;
            Progress progress = new Progress(System.err, list.size());
            for (int pi = 0; pi < list.size(); pi++) {
                Problem p = list.get(pi);
                String prompt = recipe.prompt(p);
                String instruction = recipe.instructionFor(p);
                List<String> gold = p.answers();
                // members alone, greedy
                for (int m = 0; m < k; m++) {
                    long t0 = System.nanoTime();
                    int[] tokens = models.get(m).vocab().tokenize(prompt);
                    Candidate c = Generator.generate(greedy.get(m), GenerationRequest.of(tokens).withMaxTokens(maxTokens))
                            .get(0);
                    rows.get(ids.get(m)).add(checker.correct(checker.extract(c.text()), gold),
                            tokens.length + c.tokenCount(), ms(t0));
                }
                // the shared pool: N samples from each member (answers as the checker extracts them)
                long t0 = System.nanoTime();
                List<String> pool = new ArrayList<>();
                List<String> poolTexts = new ArrayList<>();
                long poolTokens = 0;
                for (int m = 0; m < k; m++) {
                    int[] tokens = models.get(m).vocab().tokenize(prompt);
                    List<Candidate> cs = Generator.generate(sampling.get(m), GenerationRequest.of(tokens)
                            .withCandidates(samples).withMaxTokens(maxTokens).withSampler(sampler)
                            .withSeed(seed * 1_000_003L + pi * 31L + m));
                    poolTokens += tokens.length;
                    for (Candidate c : cs) {
                        pool.add(checker.extract(c.text()));
                        poolTexts.add(c.text().strip());
                        poolTokens += c.tokenCount();
                    }
                }
                Cost poolCost = new Cost(poolTokens, ms(t0));
                rows.get("random").add(checker.correct(pool.get(random.nextInt(pool.size())), gold), poolCost.tokens,
                        poolCost.millis);
                rows.get("majority").add(checker.correct(majority(pool), gold), poolCost.tokens, poolCost.millis);
                rows.get("oracle").add(pool.stream().anyMatch(a -> checker.correct(a, gold)), poolCost.tokens,
                        poolCost.millis);
                // Self-MoA: the first (best) member's own samples, as many as the whole pool, majority vote
                t0 = System.nanoTime();
                int[] firstTokens = models.get(0).vocab().tokenize(prompt);
                List<String> own = new ArrayList<>();
                long ownTokens = firstTokens.length;
                for (Candidate c : Generator.generate(sampling.get(0), GenerationRequest.of(firstTokens)
                        .withCandidates(samples * k).withMaxTokens(maxTokens).withSampler(sampler)
                        .withSeed(seed * 7 + pi))) {
                    own.add(checker.extract(c.text()));
                    ownTokens += c.tokenCount();
                }
                rows.get("self-moa").add(checker.correct(majority(own), gold), ownTokens, ms(t0));

                // judge ranking over the distinct sampled texts; MaxLogits and MaxWins share one matrix
                List<String> distinct = poolTexts.stream().filter(t -> !t.isBlank()).distinct().toList();
                if (distinct.isEmpty()) {
                    distinct = List.of(""); // every sample was empty: nothing to rank, the empty answer stands
                }
                List<String> ranked = distinct;
                Cost matrixCost = new Cost(0, 0);
                if (lm != null) {
                    CachingPairRanker judge = new CachingPairRanker(lm, 100_000);
                    long before = lm.tokensDecoded();
                    t0 = System.nanoTime();
                    ranked = rank(judge, instruction, distinct, Aggregation.MAX_LOGITS, pi);
                    matrixCost = new Cost(lm.tokensDecoded() - before, ms(t0));
                    Cost total = poolCost.plus(matrixCost);
                    rows.get("rank:maxlogits").add(checker.correct(checker.extract(ranked.get(0)), gold), total.tokens,
                            total.millis);
                    t0 = System.nanoTime();
                    String winsBest = rank(judge, instruction, distinct, Aggregation.MAX_WINS, pi).get(0);
                    rows.get("rank:maxwins").add(checker.correct(checker.extract(winsBest), gold), total.tokens,
                            total.millis + ms(t0));
                    // bubble pays for its own comparisons: a fresh cache
                    CachingPairRanker fresh = new CachingPairRanker(lm, 100_000);
                    before = lm.tokensDecoded();
                    t0 = System.nanoTime();
                    String bubbleBest = rank(fresh, instruction, distinct, Aggregation.BUBBLE, pi).get(0);
                    rows.get("rank:bubble").add(checker.correct(checker.extract(bubbleBest), gold),
                            poolCost.tokens + lm.tokensDecoded() - before, poolCost.millis + ms(t0));
                }
                // no judge model: consensus of sentence embeddings over the pool (duplicates vote)
                t0 = System.nanoTime();
                double[] consensus = embeddings.score(instruction, poolTexts);
                int top = 0;
                for (int i = 1; i < consensus.length; i++) {
                    top = consensus[i] > consensus[top] ? i : top;
                }
                rows.get("rank:embedding").add(checker.correct(pool.get(top), gold), poolCost.tokens,
                        poolCost.millis + ms(t0));
                // fusion: the judge's top 3, or the 3 most frequent answers without a judge
                if (fuser != null) {
                    if (lm != null) {
                        Fused f = fuse(fuser, instruction, ranked);
                        Cost c = f.cost().plus(poolCost).plus(matrixCost);
                        rows.get("fuse:top3").add(checker.correct(checker.extract(f.text()), gold), c.tokens, c.millis);
                    }
                    Fused f = fuse(fuser, instruction, Votes.byFrequency(poolTexts));
                    Cost c = f.cost().plus(poolCost);
                    rows.get("fuse:frequent3").add(checker.correct(checker.extract(f.text()), gold), c.tokens, c.millis);
                }
                if (k >= 2) {
                    long promptTokens = 0;
                    for (LlamaModel m : models.subList(0, k)) {
                        promptTokens += m.vocab().tokenize(prompt).length;
                    }
                    // per-token mixing, greedy: equal weights, and PackLLM weights from prompt perplexity
                    Candidate mixed = null;
                    Cost mixCost = null;
                    for (String id : new String[] {"token:linear", "token:loglinear", "token:pack", "token:gated"}) {
                        t0 = System.nanoTime();
                        MixRequest req = MixRequest.of(prompt).withMaxTokens(maxTokens);
                        req = switch (id) {
                            case "token:pack" -> req.withPerplexityWeights(1f);
                            case "token:gated" -> req.withGate((float) GATE);
                            default -> req;
                        };
                        Candidate c = (id.equals("token:linear") ? linear : logLinear).generate(req);
                        Cost cost = new Cost(promptTokens + (long) c.tokenCount() * k, ms(t0));
                        rows.get(id).add(checker.correct(checker.extract(c.text()), gold), cost.tokens, cost.millis);
                        if (id.equals("token:loglinear")) {
                            mixed = c;
                            mixCost = cost;
                        }
                    }
                    if (fuser != null) {
                        // the runtime's own: the log-linear answer fused with the two most frequent samples ...
                        String mixAnswer = mixed.text().strip();
                        List<String> three = new ArrayList<>();
                        three.add(mixAnswer);
                        for (String a : Votes.byFrequency(poolTexts)) {
                            if (three.size() < 3 && !a.equals(mixAnswer)) {
                                three.add(a);
                            }
                        }
                        Fused f = fuse(fuser, instruction, three);
                        Cost fused = f.cost().plus(poolCost).plus(mixCost);
                        boolean fusedRight = checker.correct(checker.extract(f.text()), gold);
                        rows.get("fuse:mix3").add(fusedRight, fused.tokens, fused.millis);
                        // ... and a cascade that keeps a confident log-linear answer and fuses only the rest
                        if (Math.exp(minimum(mixed.logProbs())) >= CASCADE_CONFIDENCE) {
                            rows.get("cascade").add(checker.correct(checker.extract(mixed.text()), gold), mixCost.tokens,
                                    mixCost.millis);
                        } else {
                            rows.get("cascade").add(fusedRight, fused.tokens, fused.millis);
                            escalated++;
                        }
                    }
                }
                progress.step(pi + 1, status(rows, pi + 1));
            }
            progress.done();
            print(recipe, rows, list.size(), file);
            if (rows.containsKey("cascade")) {
                System.out.printf(Locale.ROOT, "cascade escalated %d of %d problems (log-linear answer's least"
                        + " confident token below p=%.2f)%n", escalated, list.size(), CASCADE_CONFIDENCE);
            }
        } finally {
            for (LlamaModel m : models) {
                m.close();
            }
            if (embeddings != null) {
                embeddings.close();
            }
        }
        return 0;
    }

    private EmbeddingConsensusScorer embeddings;

    /** A fused answer and what producing it cost. */
    private record Fused(String text, Cost cost) {}

    /** Fuses (up to) three candidates, repeating the first when there are fewer. */
    private static Fused fuse(GenFuser fuser, String instruction, List<String> candidates) {
        long t0 = System.nanoTime();
        if (candidates.isEmpty()) {
            candidates = List.of(""); // every sample was empty
        }
        List<String> three = new ArrayList<>(candidates.subList(0, Math.min(3, candidates.size())));
        while (three.size() < 3) {
            three.add(candidates.get(0));
        }
        Candidate c = fuser.fuse(instruction, three, 8);
        return new Fused(c.text(), new Cost(fuser.promptTokens(instruction, three) + c.tokenCount(), ms(t0)));
    }

    private List<String> rank(CachingPairRanker judge, String instruction, List<String> distinct, Aggregation a,
                              int problem) {
        if (distinct.size() == 1) {
            return distinct;
        }
        return Rankings.rank(judge, instruction, distinct, a, 1, seed + problem).order().stream().map(distinct::get)
                .toList();
    }

    private static double ms(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    private static String status(Map<String, Row> rows, int done) {
        StringBuilder sb = new StringBuilder();
        for (String id : new String[] {"rank:maxlogits", "token:loglinear", "cascade"}) {
            Row r = rows.get(id);
            if (r != null) {
                sb.append(String.format(Locale.ROOT, "%s %.3f  ", id, (double) r.correct / done));
            }
        }
        return sb.toString();
    }

    private static double minimum(float[] v) {
        double m = 0;
        for (float f : v) {
            m = Math.min(m, f);
        }
        return m;
    }

    /** The most frequent answer; ties go to the one seen first. */
    static String majority(List<String> answers) {
        Map<String, Integer> counts = new HashMap<>();
        String best = answers.get(0);
        for (String a : answers) {
            int c = counts.merge(a, 1, Integer::sum);
            if (c > counts.get(best)) {
                best = a;
            }
        }
        return best;
    }

    private void print(Recipe recipe, Map<String, Row> rows, int n, Path file) throws IOException {
        System.out.printf(Locale.ROOT, "recipe %s: %d problems from %s, %d x %d samples at temperature %.2f, seed %d%n",
                recipe.name(), n, file, recipe.members().size(), samples, temperature, seed);
        System.out.printf("%-18s %9s %17s %16s %12s%n", "method", "accuracy", "95% CI", "tokens/problem", "ms/problem");
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("problems", n);
        ArrayNode methods = root.putArray("methods");
        for (Row r : rows.values()) {
            Accuracy a = new Accuracy(r.correct, n);
            double[] ci = a.wilson95();
            System.out.printf(Locale.ROOT, "%-18s %9.3f %8.3f - %-6.3f %16.1f %12.2f%n", r.method, a.value(), ci[0], ci[1],
                    (double) r.tokens / n, r.millis / n);
            ObjectNode o = methods.addObject();
            o.put("method", r.method);
            o.put("accuracy", a.value());
            o.putArray("ci95").add(ci[0]).add(ci[1]);
            o.put("tokens_per_problem", (double) r.tokens / n);
            o.put("ms_per_problem", r.millis / n);
        }
        if (json != null) {
            Files.writeString(json, mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        }
    }
}
