package dev.blender.runtime.remote;

import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.Fuser;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.TokenListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A fuser served by an OpenAI-compatible server: the fusion prompt rendered as
 * {@link dev.blender.genfuser.GenFuser} renders it (the same {@link Fuser#inputs}), sent as raw text to
 * {@code /v1/completions} or as one user message to {@code /v1/chat/completions}, and the answer taken whole.
 * The server's tokens are unknown here, so a candidate is cut at {@link #CHARS_PER_TOKEN} characters per token
 * of the template's budget rather than at its tokens, and the answer carries no tokens. Thread-safe.
 */
public final class RemoteFuser implements Fuser {
    /** About what one token of English text is in common vocabularies: the budget of a cut by characters. */
    public static final int CHARS_PER_TOKEN = 4;

    private final OpenAiClient client;
    private final FuserTemplate template;

    public RemoteFuser(OpenAiClient client, FuserTemplate template) {
        this.client = Objects.requireNonNull(client, "client");
        this.template = Objects.requireNonNull(template, "template");
    }

    @Override
    public FuserTemplate template() {
        return template;
    }

    /** The fusion prompt of the first K of {@code ranked} (best first), padded with the best to K. */
    public String prompt(String instruction, List<String> ranked) {
        int budget = template.maxCandidateTokens() * CHARS_PER_TOKEN;
        List<String> cut = new ArrayList<>();
        for (String c : Fuser.inputs(template, ranked)) {
            cut.add(c.length() <= budget ? c : c.substring(0, budget).strip());
        }
        return template.render(instruction, cut);
    }

    /**
     * Fuses, sampling as the local {@link dev.blender.genfuser.GenFuser} does with the same options: a blend
     * passes its answer sampler (greedy by default, so the fused answer is deterministic unless a configuration
     * asks otherwise). Its temperature and top-p are sent; top-k and min-p are not OpenAI fields, so the
     * server's own apply; draft tokens do not apply. The answer reaches {@code listener} whole, at once.
     *
     * @throws RemoteException the server did not answer (after its retries)
     */
    @Override
    public Fusion fuse(String instruction, List<String> ranked, FuseOptions options, TokenListener listener) {
        String prompt = prompt(instruction, ranked);
        RemoteRequest r = new RemoteRequest(List.of(ChatMessage.user(prompt)), prompt, options.sampler().temperature(),
                options.sampler().topP(), options.maxTokens(), options.stop(), options.seed());
        long t0 = System.nanoTime();
        RemoteCompletion rc = client.completeOnce(r,
                () -> options.cancellation() != null && options.cancellation().isCancelled());
        Candidate c = new Candidate(0, rc.text(), new int[0], new float[0], rc.finishReason(), 0,
                (System.nanoTime() - t0) / 1e6);
        listener.onToken(0, -1, rc.text());
        return new Fusion(c, Math.max(0, rc.promptTokens()), Math.max(0, rc.completionTokens()));
    }
}
