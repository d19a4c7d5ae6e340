package dev.blender.runtime.remote;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.generation.SamplerOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * A fuser served by an OpenAI-compatible server: the fusion prompt rendered as
 * {@link dev.blender.genfuser.GenFuser} renders it (the first K candidates, fewer padded with the best),
 * sent as raw text to {@code /v1/completions} or as one user message to {@code /v1/chat/completions}, and
 * the answer taken whole. The server's tokens are unknown here, so a candidate is cut at
 * {@link #CHARS_PER_TOKEN} characters per token of the template's budget rather than at its tokens.
 * Thread-safe.
 */
public final class RemoteFuser {
    /** About what one token of English text is in common vocabularies: the budget of a cut by characters. */
    public static final int CHARS_PER_TOKEN = 4;

    private final OpenAiClient client;
    private final FuserTemplate template;

    public RemoteFuser(OpenAiClient client, FuserTemplate template) {
        this.client = Objects.requireNonNull(client, "client");
        this.template = Objects.requireNonNull(template, "template");
    }

    /** The fusion prompt of the first K of {@code ranked} (best first), padded with the best to K. */
    public String prompt(String instruction, List<String> ranked) {
        if (ranked.isEmpty()) {
            throw new IllegalArgumentException("nothing to fuse: no candidates");
        }
        List<String> chosen = new ArrayList<>();
        for (String c : ranked.subList(0, Math.min(template.candidates(), ranked.size()))) {
            int budget = template.maxCandidateTokens() * CHARS_PER_TOKEN;
            chosen.add(c.length() <= budget ? c : c.substring(0, budget).strip());
        }
        while (chosen.size() < template.candidates()) {
            chosen.add(chosen.get(0));
        }
        return template.render(instruction, chosen);
    }

    /**
     * Fuses, sampling as the local {@link dev.blender.genfuser.GenFuser} does with the same settings: a blend
     * passes its answer sampler (greedy by default, so the fused answer is deterministic unless a
     * configuration asks otherwise). Its temperature and top-p are sent; top-k and min-p are not OpenAI fields,
     * so the server's own apply.
     *
     * @throws RemoteException the server did not answer (after its retries)
     */
    public RemoteCompletion fuse(String instruction, List<String> ranked, int maxTokens, SamplerOptions sampler,
                                 List<String> stop, Long seed, BooleanSupplier cancelled) {
        String prompt = prompt(instruction, ranked);
        RemoteRequest r = new RemoteRequest(List.of(dev.blender.nativebridge.ChatMessage.user(prompt)), prompt,
                sampler.temperature(), sampler.topP(), maxTokens, stop, seed);
        return client.completeOnce(r, cancelled);
    }
}
