package dev.blender.runtime.eval;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.runtime.Names;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Per-token mixing against each of its members alone on problems with checkable answers (what
 * {@code blender blend} prints without {@code --prompt}): a {@code member:NAME} row for each model, then one
 * {@code token:METHOD} row for the mix, counted as {@link Evaluation} counts its rows (tokens decoded by every
 * model, prompts included) and checked by the same {@link AnswerChecker}. Every row answers with the same
 * sampler, seed and token budget. Not thread-safe: it drives the contexts it is given.
 */
public final class MixEvaluation {
    private final List<String> names;
    private final List<LlamaContext> members;
    private final MixedGenerator mix;
    private final AnswerChecker checker;

    /**
     * @param members the mix's models alone, in its order (each with a context of its own)
     * @param mix     the mix of the same models
     */
    public MixEvaluation(List<LlamaContext> members, MixedGenerator mix, AnswerChecker checker) {
        this.members = List.copyOf(members);
        this.mix = Objects.requireNonNull(mix, "mix");
        this.checker = Objects.requireNonNull(checker, "checker");
        this.names = this.members.stream().map(c -> Perplexity.memberName(c.model().path())).toList();
    }

    /**
     * The problems' questions put through {@code format} ({@code {question}} replaced).
     *
     * @param pack PackLLM's perplexity-weighting temperature (0 = off), as {@link MixRequest#withPerplexityWeights}
     * @param gate the first model's confidence above which it answers alone (0 = always mix), as
     *             {@link MixRequest#withGate}
     */
    public List<Evaluation.Row> run(List<Problem> problems, String format, int maxTokens, SamplerOptions sampler,
                                    long seed, float pack, float gate, Evaluation.Listener listener) {
        int k = members.size();
        List<Evaluation.Row> rows = new ArrayList<>();
        for (String name : names) {
            rows.add(new Evaluation.Row("member:" + name, 0, 0, 0, 0, Map.of()));
        }
        rows.add(new Evaluation.Row("token:" + Names.id(mix.options().method()) + (pack > 0 ? "+pack" : "")
                + (gate > 0 ? "+gate" : ""), 0, 0, 0, 0, Map.of()));
        for (int i = 0; i < problems.size(); i++) {
            Problem p = problems.get(i);
            String text = format.replace("{question}", p.question());
            long promptTokens = 0;
            for (int m = 0; m < k; m++) {
                long t0 = System.nanoTime();
                int[] prompt = members.get(m).model().vocab().tokenize(text);
                promptTokens += prompt.length;
                Candidate c = Generator.generate(members.get(m), GenerationRequest.of(prompt).withMaxTokens(maxTokens)
                        .withSampler(sampler).withSeed(seed)).get(0);
                double ms = (System.nanoTime() - t0) / 1e6;
                rows.set(m, rows.get(m).plus(checker.accepts(c.text(), p.answers()), prompt.length + c.tokenCount(), ms, List.of()));
            }
            long t0 = System.nanoTime();
            Candidate c = mix.generate(MixRequest.of(text).withMaxTokens(maxTokens).withSampler(sampler).withSeed(seed)
                    .withPerplexityWeights(pack).withGate(gate));
            double ms = (System.nanoTime() - t0) / 1e6;
            // the mix decodes its tokens in every model
            rows.set(k, rows.get(k).plus(checker.accepts(c.text(), p.answers()), promptTokens + (long) c.tokenCount() * k, ms, List.of()));
            listener.problemDone(i + 1, problems.size(), List.copyOf(rows));
        }
        return rows;
    }
}
