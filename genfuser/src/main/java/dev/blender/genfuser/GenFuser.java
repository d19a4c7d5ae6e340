package dev.blender.genfuser;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.Speculation;
import dev.blender.nativebridge.generation.SuffixDrafter;
import dev.blender.nativebridge.generation.TokenListener;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Objects;

/**
 * Fuses the top-ranked candidates into one answer with a fuser model (LLM-Blender's GenFuser; a
 * Mixture-of-Agents aggregator with {@link FuserTemplate#aggregator()}). Candidates are cut to the
 * template's token budget, and cut further when the prompt would not leave room for the answer in the
 * context; the answer streams token by token.
 *
 * <p>The fuser may be decoder-only or encoder-decoder (a Flan-T5 GenFuser as LLM-Blender released it, converted to
 * GGUF by llama.cpp's converter): the prompt then goes through the encoder and the answer is decoded from the
 * model's decoder start token ({@link Generator} does both).
 *
 * <p>The answer is decoded with guesses from the candidates ({@link FuseOptions#draftTokens()}), checked several
 * tokens per decode: the same greedy answer, and the same sampled distribution, in fewer decodes; the counts are on
 * the fused candidate's {@link Candidate#speculation()}.
 *
 * <p>Not thread-safe: it drives one context.
 */
public final class GenFuser implements Fuser {
    private final LlamaContext ctx;
    private final FuserTemplate template;
    private final Vocab vocab;

    public GenFuser(LlamaContext ctx, FuserTemplate template) {
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        this.template = Objects.requireNonNull(template, "template");
        this.vocab = ctx.model().vocab();
    }

    @Override
    public FuserTemplate template() {
        return template;
    }

    /** Greedy fusion of up to K candidates (best first) with up to {@code maxTokens} tokens. */
    public Candidate fuse(String instruction, List<String> ranked, int maxTokens) {
        return fuse(instruction, ranked, FuseOptions.greedy(maxTokens), TokenListener.NONE).candidate();
    }

    /**
     * Fuses the first K of {@code ranked} (best first, {@link Fuser#inputs}), streaming the answer to
     * {@code listener}.
     *
     * @throws IllegalArgumentException no candidates, or even one-token candidates leave no room for
     *                                  {@code maxTokens} in the fuser's context
     */
    @Override
    public Fusion fuse(String instruction, List<String> ranked, FuseOptions settings, TokenListener listener) {
        Objects.requireNonNull(instruction, "instruction");
        List<String> chosen = Fuser.inputs(template, ranked);
        int budget = template.maxCandidateTokens();
        int room = promptRoom(settings.maxTokens());
        while (true) {
            int[] prompt = prompt(instruction, chosen, budget);
            if (prompt.length <= room) {
                GenerationRequest request = new GenerationRequest(prompt, 1, settings.maxTokens(), settings.sampler(),
                        settings.stop(), settings.seed(), settings.cancellation());
                if (settings.draftTokens() > 0) {
                    request = request.withSpeculation(new Speculation(drafter(chosen, budget), settings.draftTokens()));
                }
                Candidate fused = Generator.generate(ctx, request, listener).get(0);
                // a reasoning fuser's thoughts are not the answer; the prompt is counted at the template's budget
                return new Fusion(Generator.answerOnly(ctx.model(), prompt, fused), promptTokens(instruction, ranked),
                        fused.tokenCount());
            }
            if (budget == 1) {
                throw new IllegalArgumentException("the fusion prompt needs " + prompt.length + " tokens even with"
                        + " candidates cut to one token, " + (ctx.model().hasEncoder()
                        ? "but the fuser's encoder reads at most " + room + " in one pass (the context's batchSize and"
                                + " microBatchSize); shorten the instruction or enlarge them"
                        : "and the fuser's context of " + ctx.contextSize() + " must also hold " + settings.maxTokens()
                                + " answer tokens; shorten the instruction, lower maxTokens or enlarge the context"));
            }
            budget = Math.max(1, budget / 2);
        }
    }

    /**
     * How many prompt tokens fit. A decoder-only fuser holds prompt and answer in its KV cache; an encoder-decoder
     * fuser (Flan-T5, LLM-Blender's own) reads the prompt with its encoder in one pass, so the prompt is bounded by
     * the micro-batch and only the answer (after the decoder start token) takes KV cells.
     */
    private int promptRoom(int maxTokens) {
        if (!ctx.model().hasEncoder()) {
            return ctx.contextSize() - maxTokens;
        }
        if (maxTokens + 1 > ctx.contextSize()) {
            throw new IllegalArgumentException("the encoder-decoder fuser's context of " + ctx.contextSize() + " cells"
                    + " cannot hold the decoder start token and " + maxTokens + " answer tokens; lower maxTokens or"
                    + " enlarge the context");
        }
        return Math.min(ctx.batchSize(), ctx.microBatchSize());
    }

    /**
     * Guesses from the candidates as the prompt shows them (cut to {@code budget}), best first: a fuser mostly
     * copies one of them, or switches from one to another where they share a stretch.
     */
    SuffixDrafter drafter(List<String> candidates, int budget) {
        List<int[]> sources = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String c : candidates) {
            String cut = truncate(c, budget);
            if (seen.add(cut)) {
                sources.add(vocab.tokenize(cut, false, false));
            }
        }
        return SuffixDrafter.of(sources);
    }

    /** Tokens of the fusion prompt for these K candidates at the template's budget: the fusion's input cost. */
    public int promptTokens(String instruction, List<String> candidates) {
        return prompt(instruction, candidates, template.maxCandidateTokens()).length;
    }

    int[] prompt(String instruction, List<String> candidates, int budget) {
        List<String> cut = new ArrayList<>(candidates.size());
        for (String c : candidates) {
            cut.add(truncate(c, budget));
        }
        String text = template.render(instruction, cut);
        LlamaModel model = ctx.model();
        return Generator.prompt(model, text, template.useChatTemplate());
    }

    /** The candidate cut to {@code budget} tokens, as text. */
    String truncate(String candidate, int budget) {
        int[] tokens = vocab.tokenize(candidate, false, false);
        if (tokens.length <= budget) {
            return candidate;
        }
        return vocab.detokenize(Arrays.copyOf(tokens, budget), false, false).strip();
    }

}
