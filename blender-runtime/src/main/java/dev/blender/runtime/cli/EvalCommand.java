package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.genfuser.GenFuser;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.Ranking;
import dev.blender.pairranker.Rankings;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import dev.blender.runtime.eval.Accuracy;
import dev.blender.runtime.eval.Problem;
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
 * of accuracy, 95% interval, tokens decoded and time per problem. The arith recipe is built in:
 * answerer-a and answerer-b (N samples each), judge.gguf for ranking, fuser.gguf for fusion.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measures whether the blend beats its best member on problems with checkable answers.",
            "Recipe arith: members answerer-a, answerer-b; judge.gguf; fuser.gguf; problems shared/data/arith/dev.jsonl."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--recipe", defaultValue = "arith", description = "built-in recipe (only: arith)")
    String recipe;

    @Option(names = "--models", paramLabel = "DIR", description = "folder of the recipe's models (default: shared/models/arith)")
    Path modelDir;

    @Option(names = "--problems", paramLabel = "JSONL", description = "default: shared/data/arith/dev.jsonl")
    Path problems;

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

    private static final String[] MEMBERS = {"answerer-a", "answerer-b"};
    /**
     * The cascade keeps the log-linear answer when its least likely token was more likely than not;
     * chosen a priori, not tuned on the problems it is measured on.
     */
    static final double CASCADE_CONFIDENCE = 0.5;

    /** One method's tally. */
    private static final class Row {
        final String method;
        int correct;
        long tokens;
        double millis;
        long lastJudgeTokens;
        double lastJudgeMillis;

        Row(String method) {
            this.method = method;
        }
    }

    @Override
    public Integer call() throws IOException {
        if (!recipe.equals("arith")) {
            throw new IllegalArgumentException("unknown recipe '" + recipe + "' (built in: arith)");
        }
        if (samples < 1) {
            throw new IllegalArgumentException("--samples must be >= 1, was " + samples);
        }
        Path dir = modelDir != null ? modelDir : SharedData.resolve("models/arith").orElseThrow(() ->
                new IllegalArgumentException("shared/models/arith not found; pass --models DIR"));
        Path file = problems != null ? problems : SharedData.resolve("data/arith/dev.jsonl").orElseThrow(() ->
                new IllegalArgumentException("shared/data/arith/dev.jsonl not found; pass --problems FILE"));
        List<Problem> list = Problem.readJsonl(file, limit);
        int k = MEMBERS.length;
        List<LlamaModel> models = new ArrayList<>();
        try {
            List<LlamaContext> greedy = new ArrayList<>();
            List<LlamaContext> sampling = new ArrayList<>();
            List<LlamaContext> mixing = new ArrayList<>();
            for (String name : MEMBERS) {
                LlamaModel m = LlamaModel.load(dir.resolve(name + ".gguf"));
                models.add(m);
                greedy.add(m.newContext(ContextOptions.defaults().withContextSize(64)));
                int n = Math.max(samples, 2 * samples);
                sampling.add(m.newContext(ContextOptions.defaults().withContextSize(64 + n * 10).withMaxSequences(n)));
                mixing.add(m.newContext(ContextOptions.defaults().withContextSize(64)));
            }
            LlamaModel judgeModel = LlamaModel.load(dir.resolve("judge.gguf"));
            models.add(judgeModel);
            LmJudge lm = new LmJudge(judgeModel.newContext(ContextOptions.defaults().withContextSize(4096)
                    .withMaxSequences(64)), JudgeTemplate.arith());
            LlamaModel fuserModel = LlamaModel.load(dir.resolve("fuser.gguf"));
            models.add(fuserModel);
            GenFuser fuser = new GenFuser(fuserModel.newContext(ContextOptions.defaults().withContextSize(64)),
                    FuserTemplate.arith());
            long[] fuserTokens = {0};
            MixedGenerator logLinear = new MixedGenerator(mixing, CombineOptions.equal(CombineMethod.LOG_LINEAR, k),
                    VocabAlignment.Policy.REQUIRE_SHARED);
            MixedGenerator linear = new MixedGenerator(mixing, CombineOptions.equal(CombineMethod.LINEAR, k),
                    VocabAlignment.Policy.REQUIRE_SHARED);

            Map<String, Row> rows = new LinkedHashMap<>();
            for (String name : MEMBERS) {
                rows.put("member:" + name, new Row("member:" + name));
            }
            for (String id : new String[] {"random", "majority", "self-moa", "oracle", "rank:bubble", "rank:maxlogits",
                "rank:maxwins", "fuse:top3", "fuse:frequent3", "token:linear", "token:loglinear", "fuse:mix3",
                "cascade"}) {
                rows.put(id, new Row(id));
            }
            SplittableRandom random = new SplittableRandom(seed);
            SamplerOptions sampler = SamplerOptions.defaults().withTemperature(temperature).withTopK(0).withTopP(1f)
                    .withMinP(0f);
            Progress progress = new Progress(System.err, list.size());
            int escalated = 0;
            for (int pi = 0; pi < list.size(); pi++) {
                Problem p = list.get(pi);
                String prompt = "Q: " + p.question() + " A:";
                String gold = p.answer().strip();
                // members alone, greedy
                for (int m = 0; m < k; m++) {
                    long t0 = System.nanoTime();
                    int[] tokens = models.get(m).vocab().tokenize(prompt);
                    Candidate c = Generator.generate(greedy.get(m), GenerationRequest.of(tokens).withMaxTokens(8)).get(0);
                    tally(rows.get("member:" + MEMBERS[m]), c.text().strip().equals(gold),
                            tokens.length + c.tokenCount(), t0);
                }
                // the shared pool: N samples from each member
                long t0 = System.nanoTime();
                List<String> pool = new ArrayList<>();
                long poolTokens = 0;
                for (int m = 0; m < k; m++) {
                    int[] tokens = models.get(m).vocab().tokenize(prompt);
                    List<Candidate> cs = Generator.generate(sampling.get(m), GenerationRequest.of(tokens)
                            .withCandidates(samples).withMaxTokens(8).withSampler(sampler).withSeed(seed * 1_000_003L + pi * 31L + m));
                    poolTokens += tokens.length;
                    for (Candidate c : cs) {
                        pool.add(c.text().strip());
                        poolTokens += c.tokenCount();
                    }
                }
                double poolMillis = (System.nanoTime() - t0) / 1e6;
                addPool(rows.get("random"), pool.get(random.nextInt(pool.size())).equals(gold), poolTokens, poolMillis);
                addPool(rows.get("majority"), majority(pool).equals(gold), poolTokens, poolMillis);
                addPool(rows.get("oracle"), pool.contains(gold), poolTokens, poolMillis);
                // Self-MoA: the best member's own samples, as many as the whole pool, majority vote
                t0 = System.nanoTime();
                int[] aTokens = models.get(0).vocab().tokenize(prompt);
                List<Candidate> own = Generator.generate(sampling.get(0), GenerationRequest.of(aTokens)
                        .withCandidates(samples * k).withMaxTokens(8).withSampler(sampler).withSeed(seed * 7 + pi));
                List<String> ownTexts = new ArrayList<>();
                long ownTokens = aTokens.length;
                for (Candidate c : own) {
                    ownTexts.add(c.text().strip());
                    ownTokens += c.tokenCount();
                }
                tally(rows.get("self-moa"), majority(ownTexts).equals(gold), ownTokens, t0);
                // ranking the pool's distinct answers with the judge; the cache shares pair scores
                List<String> distinct = pool.stream().distinct().toList();
                List<String> ranked = distinct;
                CachingPairRanker judge = new CachingPairRanker(lm, 100_000);
                for (Aggregation a : new Aggregation[] {Aggregation.MAX_LOGITS, Aggregation.MAX_WINS, Aggregation.BUBBLE}) {
                    long before = lm.tokensDecoded();
                    t0 = System.nanoTime();
                    List<String> order = distinct.size() == 1 ? distinct
                            : Rankings.rank(judge, p.question(), distinct, a, 1, seed + pi).order().stream()
                                    .map(distinct::get).toList();
                    String best = order.get(0);
                    String id = switch (a) {
                        case MAX_LOGITS -> "rank:maxlogits";
                        case MAX_WINS -> "rank:maxwins";
                        case BUBBLE -> "rank:bubble";
                    };
                    Row r = rows.get(id);
                    r.correct += best.equals(gold) ? 1 : 0;
                    Row maxLogits = rows.get("rank:maxlogits");
                    // MaxWins reads MaxLogits' matrix from the cache: charge it the same model cost
                    long judgeTokens = a == Aggregation.MAX_WINS ? maxLogits.lastJudgeTokens : lm.tokensDecoded() - before;
                    double judgeMillis = (System.nanoTime() - t0) / 1e6
                            + (a == Aggregation.MAX_WINS ? maxLogits.lastJudgeMillis : 0);
                    if (a == Aggregation.MAX_LOGITS) {
                        r.lastJudgeTokens = judgeTokens;
                        r.lastJudgeMillis = judgeMillis;
                        ranked = order;
                    }
                    r.tokens += poolTokens + judgeTokens;
                    r.millis += poolMillis + judgeMillis;
                    if (a == Aggregation.MAX_WINS) {
                        // bubble must pay for its own comparisons: start it from an empty cache
                        judge = new CachingPairRanker(lm, 100_000);
                    }
                }
                // fusion: the judge's top 3 (MaxLogits), or the 3 most frequent answers without a judge
                for (String id : new String[] {"fuse:top3", "fuse:frequent3"}) {
                    t0 = System.nanoTime();
                    long before = fuserTokens[0];
                    List<String> three = id.equals("fuse:top3") ? ranked : byFrequency(pool);
                    Candidate c = fuser.fuse(p.question(), three, 8);
                    fuserTokens[0] += fuserPromptTokens(fuser, p.question(), three) + c.tokenCount();
                    Row r = rows.get(id);
                    long extra = id.equals("fuse:top3") ? rows.get("rank:maxlogits").lastJudgeTokens : 0;
                    double extraMillis = id.equals("fuse:top3") ? rows.get("rank:maxlogits").lastJudgeMillis : 0;
                    r.correct += c.text().strip().equals(gold) ? 1 : 0;
                    r.tokens += poolTokens + extra + (fuserTokens[0] - before);
                    r.millis += poolMillis + extraMillis + (System.nanoTime() - t0) / 1e6;
                }
                // per-token mixing, greedy
                Candidate mixed = null;
                long mixTokens = 0;
                double mixMillis = 0;
                for (Object[] mix : new Object[][] {{"token:linear", linear}, {"token:loglinear", logLinear}}) {
                    t0 = System.nanoTime();
                    Candidate c = ((MixedGenerator) mix[1]).generate(MixRequest.of(prompt).withMaxTokens(8));
                    long promptTokens = 0;
                    for (int m = 0; m < k; m++) {
                        promptTokens += models.get(m).vocab().tokenize(prompt).length;
                    }
                    long tokens = promptTokens + (long) c.tokenCount() * k;
                    tally(rows.get((String) mix[0]), c.text().strip().equals(gold), tokens, t0);
                    if (mix[1] == logLinear) {
                        mixed = c;
                        mixTokens = tokens;
                        mixMillis = (System.nanoTime() - t0) / 1e6;
                    }
                }
                // the runtime's own: the log-linear answer, fused with the two most frequent samples
                t0 = System.nanoTime();
                String mixAnswer = mixed.text().strip();
                List<String> mix3 = new ArrayList<>();
                mix3.add(mixAnswer);
                for (String a : byFrequency(pool)) {
                    if (mix3.size() < 3 && !a.equals(mixAnswer)) {
                        mix3.add(a);
                    }
                }
                Candidate fusedMix = fuser.fuse(p.question(), mix3, 8);
                long fuseMixTokens = fuserPromptTokens(fuser, p.question(), mix3) + fusedMix.tokenCount();
                double fuseMixMillis = (System.nanoTime() - t0) / 1e6;
                addPool(rows.get("fuse:mix3"), fusedMix.text().strip().equals(gold),
                        poolTokens + mixTokens + fuseMixTokens, poolMillis + mixMillis + fuseMixMillis);
                // cascade: trust the log-linear answer when every token was confident, else fuse
                double confidence = Math.exp(minimum(mixed.logProbs()));
                Row cascade = rows.get("cascade");
                if (confidence >= CASCADE_CONFIDENCE) {
                    cascade.correct += mixAnswer.equals(gold) ? 1 : 0;
                    cascade.tokens += mixTokens;
                    cascade.millis += mixMillis;
                } else {
                    cascade.correct += fusedMix.text().strip().equals(gold) ? 1 : 0;
                    cascade.tokens += poolTokens + mixTokens + fuseMixTokens;
                    cascade.millis += poolMillis + mixMillis + fuseMixMillis;
                    escalated++;
                }
                progress.step(pi + 1, String.format(Locale.ROOT, "maxlogits %.3f loglinear %.3f",
                        (double) rows.get("rank:maxlogits").correct / (pi + 1),
                        (double) rows.get("token:loglinear").correct / (pi + 1)));
            }
            progress.done();
            print(rows, list.size(), file);
            System.out.printf(Locale.ROOT, "cascade escalated %d of %d problems (log-linear answer's least confident"
                    + " token below p=%.2f)%n", escalated, list.size(), CASCADE_CONFIDENCE);
        } finally {
            for (LlamaModel m : models) {
                m.close();
            }
        }
        return 0;
    }

    private static void tally(Row r, boolean correct, long tokens, long startNanos) {
        r.correct += correct ? 1 : 0;
        r.tokens += tokens;
        r.millis += (System.nanoTime() - startNanos) / 1e6;
    }

    private static void addPool(Row r, boolean correct, long tokens, double millis) {
        r.correct += correct ? 1 : 0;
        r.tokens += tokens;
        r.millis += millis;
    }

    private static double minimum(float[] v) {
        double m = 0;
        for (float f : v) {
            m = Math.min(m, f);
        }
        return m;
    }

    /** Distinct answers, most frequent first; ties in order of first appearance. */
    static List<String> byFrequency(List<String> answers) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String a : answers) {
            counts.merge(a, 1, Integer::sum);
        }
        List<String> out = new ArrayList<>(counts.keySet());
        out.sort((x, y) -> counts.get(y) - counts.get(x));
        return out;
    }

    private static int fuserPromptTokens(GenFuser fuser, String question, List<String> candidates) {
        List<String> three = new ArrayList<>(candidates.subList(0, Math.min(3, candidates.size())));
        while (three.size() < 3) {
            three.add(candidates.get(0));
        }
        return fuser.promptTokens(question, three);
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

    private void print(Map<String, Row> rows, int n, Path file) throws IOException {
        System.out.printf("%d problems from %s, %d x %d samples at temperature %.2f, seed %d%n", n, file,
                MEMBERS.length, samples, temperature, seed);
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
