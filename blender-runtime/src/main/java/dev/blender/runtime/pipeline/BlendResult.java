package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.SpeculationStats;
import dev.blender.runtime.pipeline.Completion.FinishReason;
import dev.blender.runtime.pipeline.Completion.Speculation;
import java.util.List;

/**
 * Everything a blend produced: the answer, the candidates it came from (which model wrote each), their
 * distinct texts in the blend's final order with votes and scores, the fused answer, and what each
 * stage took.
 *
 * @param strategy   the name of the composition that ran ({@code full-blend}, {@code fuse:mix3}, yours)
 * @param answer     the final text
 * @param candidates sampled candidates, in sampling order; empty when no stage sampled
 * @param ranked     the distinct candidate texts, best first, as the last vote or rank left them
 * @param orderedBy  what ordered {@code ranked}: {@code sampling} (first appearance), {@code votes}, or the
 *                   judge's or reranker's aggregation ({@code max-logits}, {@code bubble}, {@code max-wins})
 * @param fused      the fuser's last output, or null when nothing was fused
 * @param escalated  true when a gate let the blend past it (a cascade that was not confident)
 * @param timings    per-stage wall times
 * @param usage      tokens each stage put through a model
 * @param finishReason why the answer ended: its end-of-generation token, a stop string, the token budget
 *                   ({@link FinishReason#LENGTH}) or a full context
 * @param routed     the generators (file names) a route stage chose, the best first; empty when no route
 *                   stage ran or none of its cases applied (every generator took part)
 * @param failures   the members that failed to answer (remote members: a dead server, a timeout, an error
 *                   status) and why, in the order they failed; the blend answered without them
 * @param notes      what the result should be read with: approximations remote members made (see {@link Note})
 *
 * <p>Immutable, so thread-safe.
 */
public record BlendResult(String strategy, String answer, List<Sampled> candidates, List<Ranked> ranked,
                          String orderedBy, Completion fused, boolean escalated, Timings timings, Usage usage,
                          FinishReason finishReason, List<String> routed, List<MemberFailure> failures,
                          List<Note> notes) {

    /** A member that gave no candidates, and why ({@code model} as in {@link Sampled#model()}). */
    public record MemberFailure(String model, String error) {}

    /**
     * An approximation in the result. Kinds: {@code text-verdicts} (a remote judge returned no log-probability
     * of a verdict for {@code value} ordered pairs, judged by the verdict's text instead: their scores are
     * {@code +-2} or 0), {@code missing-mass} (a per-token mix with remote members: {@code value} is the mean
     * probability mass outside the remote members' top lists over its steps).
     */
    public record Note(String kind, String message, double value) {}

    /** A blend's result from what it holds inside: candidates with their token ids, the loops' finish reason. */
    BlendResult(String strategy, String answer, List<Sample> candidates, List<Ranked> ranked, String orderedBy,
                Candidate fused, boolean escalated, Timings timings, Usage usage,
                dev.blender.nativebridge.generation.FinishReason finishReason, List<String> routed,
                List<MemberFailure> failures, List<Note> notes) {
        this(strategy, answer, Sample.toResults(candidates), ranked, orderedBy, Completion.of(fused), escalated, timings,
                usage, Completion.reason(finishReason), routed, failures, notes);
    }

    /**
     * One distinct candidate text.
     *
     * @param models the generators (file names) that wrote it, in sampling order, repeats kept
     * @param votes  how many candidates had this text
     * @param score  the ranker's aggregated score where a rank stage ordered it, else null
     */
    public record Ranked(String text, List<String> models, int votes, Double score) {
        public Ranked {
            models = List.copyOf(models);
        }
    }

    /**
     * A candidate and the model (file name) that wrote it. A reasoning model's thinking part is kept apart: the
     * candidate's text is its answer, which ranking, voting and fusion read.
     *
     * @param thinking what the model thought before answering; empty for a model that does not reason
     */
    public record Sampled(String model, Completion candidate, String thinking) {
        public Sampled {
            java.util.Objects.requireNonNull(candidate, "candidate");
            java.util.Objects.requireNonNull(thinking, "thinking");
        }
    }

    /**
     * Milliseconds per stage; {@code firstTokenMillis} is from the request's start to the first token of
     * the final answer (the fused answer when there is one).
     */
    public record Timings(double samplingMillis, double rankingMillis, double fusionMillis, double firstTokenMillis,
                          double totalMillis) {}

    /**
     * What one stage decoded: {@code promptTokens} read (prompts; for the judge, its prompts and verdict
     * prefixes) and {@code generatedTokens} written (samples; for the judge, its rationales). Stages: {@code sampling}, {@code ranking}
     * (rank and verify), {@code fusion} (fuse and refine), {@code mixing} (every member counted),
     * {@code routing} (a route stage's confidence answers), {@code solving} (the judge's solutions). Pairs the
     * judge had already compared (the blender's pair cache) cost nothing, except under {@link SharedWork}.
     * {@code speculation}: what drafting from the candidates saved the stage (the fuser's tokens checked in
     * batches rather than generated one by one); all zero where the stage drafted nothing.
     */
    public record StageUsage(String stage, long promptTokens, long generatedTokens, Speculation speculation) {
        public StageUsage {
            java.util.Objects.requireNonNull(speculation, "speculation");
        }

        /** A stage that drafted nothing. */
        public StageUsage(String stage, long promptTokens, long generatedTokens) {
            this(stage, promptTokens, generatedTokens, Speculation.NONE);
        }

        /** A stage's usage as the token loops count it. */
        StageUsage(String stage, long promptTokens, long generatedTokens, SpeculationStats speculation) {
            this(stage, promptTokens, generatedTokens, Speculation.of(speculation));
        }

        public long totalTokens() {
            return promptTokens + generatedTokens;
        }
    }

    /** Every stage's tokens, in the order the stages ran. */
    public record Usage(List<StageUsage> stages) {
        public Usage {
            stages = List.copyOf(stages);
        }

        public long promptTokens() {
            return stages.stream().mapToLong(StageUsage::promptTokens).sum();
        }

        public long generatedTokens() {
            return stages.stream().mapToLong(StageUsage::generatedTokens).sum();
        }

        public long totalTokens() {
            return promptTokens() + generatedTokens();
        }
    }

    public BlendResult {
        candidates = List.copyOf(candidates);
        ranked = List.copyOf(ranked);
        routed = List.copyOf(routed);
        failures = List.copyOf(failures);
        notes = List.copyOf(notes);
    }
}
