package dev.blender.runtime.remote;

import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * A pairwise judge served by an OpenAI-compatible server's {@code /v1/completions}: the same prompt,
 * rationale and verdicts as {@link dev.blender.pairranker.judge.LmJudge}, read through text and
 * log-probabilities instead of logits. Per ordered pair: the rationale (if the template has one) is generated
 * greedily up to the template's stop, which the server leaves out of the text, so it is put back (as LmJudge
 * forces it after the budget); then one token is asked for at the verdict position with the top alternatives,
 * and the score is {@code log P(first verdict) - log P(second verdict)} at the first token where they differ:
 * the difference of their logits, as LmJudge computes it locally.
 *
 * <p>The server's tokens are unknown here, so the verdict position is found by text: a verdict's token is an
 * alternative whose text is a prefix of the verdict longer than what both verdicts share. When the most
 * likely alternative is instead the start of the shared part (the arith judge writes {@code ▁} before
 * {@code X} or {@code Y}), the shared part is appended and the position asked again.
 *
 * <p>Where the server returns no log-probabilities, or a verdict is not among the alternatives, the pair is
 * judged by the verdict's text (greedy): {@code +-}{@link #TEXT_VERDICT} for a verdict written, 0 for neither.
 * {@link #textVerdicts()} counts those pairs so a blend can say so. Thread-safe; pairs of one call are asked
 * in parallel.
 */
public final class RemoteJudge implements PairRanker {
    /** A text verdict's score: the logit of about 88% confidence, a clear but not extreme preference. */
    public static final double TEXT_VERDICT = 2.0;

    private final OpenAiClient client;
    private final JudgeTemplate template;
    private final BooleanSupplier cancelled;
    private final String shared;
    private final String restFirst;
    private final String restSecond;
    private final AtomicLong tokens = new AtomicLong();
    private final AtomicLong textVerdicts = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();

    /**
     * @throws IllegalArgumentException the endpoint is asked through chat: a verdict position is a raw-text
     *                                  continuation, which only {@code /v1/completions} gives
     */
    public RemoteJudge(OpenAiClient client, JudgeTemplate template, BooleanSupplier cancelled) {
        this.client = Objects.requireNonNull(client, "client");
        this.template = Objects.requireNonNull(template, "template");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
        if (client.endpoint().api() != RemoteEndpoint.Api.COMPLETIONS) {
            throw new IllegalArgumentException("the remote judge at " + client.endpoint().baseUrl() + " must be asked"
                    + " through \"api\": \"completions\": its verdict continues the judge's prompt as raw text");
        }
        String a = template.verdictFirst();
        String b = template.verdictSecond();
        int common = 0;
        while (common < a.length() && common < b.length() && a.charAt(common) == b.charAt(common)) {
            common++;
        }
        if (common == a.length() || common == b.length()) {
            throw new IllegalArgumentException("verdicts '" + a + "' and '" + b + "' cannot be told apart by a remote"
                    + " judge: one is a prefix of the other");
        }
        this.shared = a.substring(0, common);
        this.restFirst = a.substring(common);
        this.restSecond = b.substring(common);
    }

    @Override
    public String id() {
        return "remote-judge(" + client.endpoint().baseUrl() + " " + client.endpoint().model() + ", " + template + ")";
    }

    @Override
    public double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs) {
        Objects.requireNonNull(instruction, "instruction");
        double[] out = new double[pairs.size()];
        AtomicBoolean failed = new AtomicBoolean();
        BooleanSupplier stop = () -> failed.get() || cancelled.getAsBoolean();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Double>> futures = new ArrayList<>();
            for (OrderedPair p : pairs) {
                String prompt = template.render(instruction, candidates.get(p.first()), candidates.get(p.second()));
                futures.add(ex.submit(() -> score(prompt, stop)));
            }
            for (int i = 0; i < futures.size(); i++) {
                try {
                    out[i] = futures.get(i).get();
                } catch (ExecutionException e) {
                    failed.set(true);
                    if (e.getCause() instanceof RuntimeException r) {
                        throw r;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    failed.set(true);
                    Thread.currentThread().interrupt();
                    throw new CancellationException("interrupted");
                }
            }
        }
        return out;
    }

    /** One ordered pair's score. */
    double score(String prompt, BooleanSupplier stop) {
        String position = prompt;
        if (template.rationaleStop() != null) {
            RemoteCompletion r = ask(RemoteRequest.text(prompt, Math.max(1, template.maxRationaleTokens()),
                    List.of(template.rationaleStop()), null, 0), stop);
            String text = r.text();
            int at = text.indexOf(template.rationaleStop());
            // a server that keeps the stop in the text (vLLM's include_stop_str_in_output) gives it once
            position = prompt + (at >= 0 ? text.substring(0, at) : text) + template.rationaleStop();
        }
        RemoteCompletion v = ask(RemoteRequest.text(position, 1, List.of(), null, client.endpoint().topLogprobs()), stop);
        Double s = verdict(v.top(), shared);
        boolean afterShared = false;
        if (s == null && !shared.isEmpty() && !v.top().isEmpty() && startsShared(best(v.top()))) {
            position = position + shared;
            afterShared = true;
            v = ask(RemoteRequest.text(position, 1, List.of(), null, client.endpoint().topLogprobs()), stop);
            s = verdict(v.top(), "");
        }
        if (s != null) {
            return s;
        }
        textVerdicts.incrementAndGet();
        RemoteCompletion t = ask(RemoteRequest.text(position, 4, List.of(), null, 0), stop);
        String said = (afterShared ? shared : "") + t.text();
        String a = template.verdictFirst().strip();
        String b = template.verdictSecond().strip();
        String w = said.strip();
        // the longer verdict first, so that one that starts with the other is not mistaken for it
        boolean aFirst = a.length() >= b.length();
        if (w.startsWith(aFirst ? a : b)) {
            return aFirst ? TEXT_VERDICT : -TEXT_VERDICT;
        }
        if (w.startsWith(aFirst ? b : a)) {
            return aFirst ? -TEXT_VERDICT : TEXT_VERDICT;
        }
        return 0;
    }

    /**
     * The verdict logit from the alternatives, or null when they do not hold both verdicts' tokens;
     * {@code before} is the part of the shared text not yet in the prompt.
     */
    private Double verdict(List<TokenLogprob> top, String before) {
        TokenLogprob a = null;
        TokenLogprob b = null;
        for (TokenLogprob t : top) {
            String text = new String(t.bytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (t.isEnd() || text.length() <= 0) {
                continue;
            }
            String sharedText = text.startsWith(before) ? text.substring(before.length()) : null;
            if (sharedText == null || sharedText.isEmpty()) {
                continue;
            }
            if (restFirst.startsWith(sharedText) && (a == null || t.logprob() > a.logprob())) {
                a = t;
            } else if (restSecond.startsWith(sharedText) && (b == null || t.logprob() > b.logprob())) {
                b = t;
            }
        }
        if (a == null || b == null) {
            return null;
        }
        return a.logprob() - b.logprob();
    }

    private boolean startsShared(TokenLogprob t) {
        String text = new String(t.bytes(), java.nio.charset.StandardCharsets.UTF_8);
        return !t.isEnd() && !text.isEmpty() && shared.startsWith(text);
    }

    private static TokenLogprob best(List<TokenLogprob> top) {
        TokenLogprob best = top.get(0);
        for (TokenLogprob t : top) {
            if (t.logprob() > best.logprob()) {
                best = t;
            }
        }
        return best;
    }

    private RemoteCompletion ask(RemoteRequest r, BooleanSupplier stop) {
        RemoteCompletion c = client.completeOnce(r, stop);
        requests.incrementAndGet();
        tokens.addAndGet(Math.max(0, c.promptTokens()) + Math.max(0, c.completionTokens()));
        return c;
    }

    /** Pairs judged by the verdict's text, where no log-probability of a verdict came back. */
    public long textVerdicts() {
        return textVerdicts.get();
    }

    /** Requests sent so far. */
    public long requests() {
        return requests.get();
    }

    /** Tokens the server reported reading and writing for this judge (its usage). */
    @Override
    public long tokensDecoded() {
        return tokens.get();
    }
}
