package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.util.List;
import java.util.Objects;

/**
 * The judge as a solver ({@link Stage.Solve}): it reads the task and two answers exactly as it does to
 * compare them, and the rationale it writes before its verdict is taken as an answer. A judge trained to
 * work the result out before it compares (the arith judge writes the sum, then "Better: X") writes a
 * better answer than either it read: it checks them instead of copying one, as a fuser may.
 */
final class JudgeSolver {
    private final LlamaContext ctx;
    private final JudgeTemplate template;

    /**
     * @throws IllegalArgumentException the template has no rationale: such a judge gives a verdict at once and
     *                                  writes nothing that could be an answer
     */
    JudgeSolver(LlamaContext ctx, JudgeTemplate template) {
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        this.template = Objects.requireNonNull(template, "template");
        if (template.rationaleStop() == null) {
            throw new IllegalArgumentException("solve: the judge's template has no rationale (rationaleStop) before its"
                    + " verdict, so it writes no answer to take; use a judge template that works the task out first");
        }
    }

    /** The prompt tokens of the comparison of {@code first} with {@code second} (what the solution costs to read). */
    int[] prompt(String instruction, String first, String second) {
        return Generator.prompt(ctx.model(), template.render(instruction, first, second), template.useChatTemplate());
    }

    /**
     * The judge's rationale for the ordered pair, greedy, up to its stop (excluded) or the template's rationale
     * budget; the candidate's token probabilities are the judge's, for a gate or a pick to read.
     */
    Candidate solve(int[] prompt, long seed, Cancellation cancellation) {
        GenerationRequest request = GenerationRequest.of(prompt).withMaxTokens(template.maxRationaleTokens())
                .withSampler(SamplerOptions.greedy()).withStop(List.of(template.rationaleStop())).withSeed(seed)
                .withCancellation(cancellation);
        Candidate c = Generator.generate(ctx, request, TokenListener.NONE).get(0);
        return c.withText(c.text().strip());
    }
}
