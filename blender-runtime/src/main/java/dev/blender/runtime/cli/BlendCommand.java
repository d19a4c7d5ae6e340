package dev.blender.runtime.cli;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.EvalReport;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.MixEvaluation;
import dev.blender.runtime.eval.Problem;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender blend}: mixes models token by token. With no arguments it blends the arith answerers
 * a and b from the shared folder on the first problems of its dev set and compares the blend with each
 * member alone ({@link MixEvaluation}); {@code --prompt} streams one blended answer instead.
 */
@Command(name = "blend", mixinStandardHelpOptions = true,
        description = {"Mixes the next-token distributions of several models at every step.",
            "Defaults: shared/models/arith/answerer-a.gguf + answerer-b.gguf, log-linear, equal weights, greedy, "
                + "scored on the first 100 problems of shared/data/arith/dev.jsonl against each model alone."})
final class BlendCommand implements Callable<Integer> {
    @Mixin
    ModelFlags members = new ModelFlags();

    @Option(names = "--method", defaultValue = "LOG_LINEAR",
            description = "LINEAR, LOG_LINEAR or NEGATIVE_EVIDENCE (default: ${DEFAULT-VALUE})")
    CombineMethod method;

    @Option(names = "--weights", split = ",", paramLabel = "W", description = "member weights (default: equal)")
    float[] weights;

    @Option(names = "--lambda", defaultValue = "0.5", description = "negative-evidence strength (default: ${DEFAULT-VALUE})")
    float lambda;

    @Option(names = "--alpha", defaultValue = "0.1", description = "negative-evidence plausibility threshold (default: ${DEFAULT-VALUE})")
    float alpha;

    @Option(names = "--pack", defaultValue = "0", paramLabel = "T",
            description = "PackLLM weights per request from prompt perplexity at temperature T (0 = off)")
    float pack;

    @Option(names = "--gate", defaultValue = "0", paramLabel = "P",
            description = "confidence-gated mixing: use the first model alone where its top token has probability >= P"
                    + " (0 = always mix)")
    float gate;

    @Option(names = "--adapt", defaultValue = "fixed", paramLabel = "A",
            description = "how the weights learn as the text goes, from --weights as the prior: fixed, bayes (online"
                    + " Bayesian, fixed share) or learned (a gate learnt online) (default: ${DEFAULT-VALUE})")
    CombineOptions.Adaptation adapt;

    @Option(names = "--rate", description = "the rate of --adapt: fixed-share rate for bayes (default 0.01), learning"
            + " rate for learned (default 0.1)")
    Float rate;

    @Option(names = "--align-by-text", description = "allow members whose vocabularies differ (aligned by token text)")
    boolean alignByText;

    @Option(names = {"-p", "--prompt"}, description = "blend one prompt and stream the answer instead of scoring problems")
    String prompt;

    @Option(names = "--problems", paramLabel = "JSONL", description = "problems {question, answer} (default: shared/data/arith/dev.jsonl)")
    Path problems;

    @Option(names = "--limit", defaultValue = "100", description = "problems to score (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--format", defaultValue = "Q: {question} A:",
            description = "prompt format for problems (default: \"${DEFAULT-VALUE}\")")
    String format;

    @Option(names = "--max-tokens", description = "tokens per answer (default: 8 for the arith problems, 128 with --prompt)")
    Integer maxTokens;

    /** Unset, the budget suits the job: an arith answer is a few tokens, a story is not. */
    private int maxTokens(boolean freePrompt) {
        return maxTokens != null ? maxTokens : freePrompt ? 128 : 8;
    }

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(names = "--context", defaultValue = "0", description = "context size per model (0 = the model's own)")
    int context;

    @Option(names = "--json", description = "print the result table as JSON")
    boolean json;

    @Override
    public Integer call() {
        List<Path> paths = members.models.isEmpty() ? defaultModels() : members.files("blend");
        if (paths.size() < 2 && method != CombineMethod.NEGATIVE_EVIDENCE) {
            throw new IllegalArgumentException("blending needs at least two --model files");
        }
        CombineOptions options = options(paths.size());
        PrintStream err = System.err;
        List<LlamaModel> loaded = new ArrayList<>();
        List<LlamaContext> contexts = new ArrayList<>();
        try {
            for (int i = 0; i < paths.size(); i++) {
                err.printf("loading %d/%d %s%n", i + 1, paths.size(), paths.get(i));
                LlamaModel m = LlamaModel.load(paths.get(i), members.modelOptions());
                loaded.add(m);
                contexts.add(m.newContext(ContextOptions.defaults().withContextSize(context)));
            }
            MixedGenerator mix = new MixedGenerator(contexts, options,
                    alignByText ? VocabAlignment.Policy.ALIGN_BY_TEXT : VocabAlignment.Policy.REQUIRE_SHARED);
            SamplerOptions sampler = temperature == 0 ? SamplerOptions.greedy()
                    : SamplerOptions.defaults().withTemperature(temperature);
            return prompt != null ? streamOne(mix, sampler) : score(mix, sampler, contexts);
        } finally {
            for (LlamaModel m : loaded) {
                m.close();
            }
        }
    }

    private CombineOptions options(int members) {
        if (method == CombineMethod.NEGATIVE_EVIDENCE) {
            if (adapt != CombineOptions.Adaptation.FIXED) {
                throw new IllegalArgumentException("--adapt is for LINEAR and LOG_LINEAR mixing");
            }
            return CombineOptions.negativeEvidence(members, lambda, alpha);
        }
        if (rate != null && adapt == CombineOptions.Adaptation.FIXED) {
            throw new IllegalArgumentException("--rate is the rate of --adapt bayes or learned");
        }
        if (weights != null) {
            if (weights.length != members) {
                throw new IllegalArgumentException("--weights has " + weights.length + " values for " + members + " models");
            }
            return new CombineOptions(method, weights, 0, 1).adapting(adapt, rate);
        }
        return CombineOptions.equal(method, members).adapting(adapt, rate);
    }

    private int streamOne(MixedGenerator mix, SamplerOptions sampler) {
        MixRequest req = MixRequest.of(prompt).withMaxTokens(maxTokens(true)).withSampler(sampler)
                .withSeed(seed).withPerplexityWeights(pack).withGate(gate);
        PrintStream out = System.out;
        Candidate c = mix.generate(req, (cand, token, text) -> {
            out.print(text);
            out.flush();
        });
        out.println();
        System.err.printf(Locale.ROOT, "[%s, %d tokens, %s, prompt %.1f ms, %.1f tokens/s]%n", mix.options(),
                c.tokenCount(), c.finishReason(), c.promptMillis(), c.tokensPerSecond());
        return 0;
    }

    private int score(MixedGenerator mix, SamplerOptions sampler, List<LlamaContext> contexts) {
        Path file = problems != null ? problems : SharedData.resolve("data/arith/dev.jsonl").orElseThrow(() ->
                new IllegalArgumentException("no problems file: pass --problems FILE.jsonl or --prompt TEXT"
                        + " (the default, shared/data/arith/dev.jsonl, was not found)"));
        List<Problem> list = Problem.readJsonl(file, limit);
        Progress progress = new Progress(System.err, list.size());
        List<Evaluation.Row> rows = new MixEvaluation(contexts, mix, AnswerChecker.EXACT).run(list, format,
                maxTokens(false), sampler, seed, pack, gate, (done, total, sofar) -> progress.step(done,
                        String.format(Locale.ROOT, "blend %.3f", sofar.get(sofar.size() - 1).accuracy().value())));
        progress.done();
        EvalReport report = new EvalReport(rows, list.size(), 0, file);
        if (json) {
            System.out.println(JsonOut.text(report.toJson()));
        } else {
            System.out.printf("%d problems from %s, %s%n", list.size(), file, mix.options());
            report.table().forEach(System.out::println);
        }
        return 0;
    }

    private static List<Path> defaultModels() {
        Path a = SharedData.resolve("models/arith/answerer-a.gguf").orElse(null);
        Path b = SharedData.resolve("models/arith/answerer-b.gguf").orElse(null);
        if (a == null || b == null) {
            throw new IllegalArgumentException("no --model given and the default models (shared/models/arith/answerer-a.gguf,"
                    + " answerer-b.gguf) were not found; pass -m a.gguf -m b.gguf or -Dblender.shared=DIR");
        }
        return List.of(a, b);
    }
}
