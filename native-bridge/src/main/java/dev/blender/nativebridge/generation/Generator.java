package dev.blender.nativebridge.generation;

import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.nativebridge.chat.Reasoning;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Samples N candidates for one prompt from one context, batched: the prompt is decoded once into
 * sequence 0 and shared with sequences 1..N-1 by KV-cache copy, then every live candidate advances by
 * one token per {@code llama_decode}; finished candidates drop out and free their cells.
 *
 * <p>An encoder-decoder model (T5, Flan-T5: LLM-Blender's own GenFuser) reads the prompt with its encoder, once
 * for all N candidates, and each candidate's decoder starts from the model's
 * {@linkplain LlamaModel#decoderStartToken() decoder start token}; the prompt must then fit one micro-batch and
 * takes no KV cells. With llama.cpp b4916 such a model generates one candidate per call
 * ({@link dev.blender.nativebridge.LlamaAbi#batchesEncoderDecoder()}).
 *
 * <p>The context must allow {@code maxSequences >= N} and hold the prompt plus every candidate's
 * tokens ({@code contextSize >= prompt + N * maxTokens}; a candidate that finds no room ends with
 * {@link FinishReason#CONTEXT_FULL}). Each call starts from an empty KV cache, so requests on a
 * reused context give exactly what a fresh context gives. Runs on the calling thread; the context's
 * thread rules apply.
 *
 * <p>With {@link GenerationRequest#withSpeculation speculation}, a candidate's step also carries the tokens its
 * drafter guesses after its last one, all with logits; the candidate then samples position by position for as long
 * as the model agrees with the guess, and drops the cells of the rest. The same loop takes every token, so stop
 * strings, end of generation, maxTokens, cancellation and streaming see one token at a time as without guesses.
 */
public final class Generator {
    private static final int[] NO_DRAFT = new int[0];

    private Generator() {}

    /**
     * Prompt tokens for a user's text: formatted with the model's chat template when it has one and
     * {@code useChatTemplate} is set, else the text as it is; BOS added as the model wants.
     */
    public static int[] prompt(LlamaModel model, String userText, boolean useChatTemplate) {
        return prompt(model, List.of(ChatMessage.user(userText)), useChatTemplate);
    }

    /**
     * A conversation as the model reads it: through its chat template (with the assistant's prefix)
     * when it has one and {@code useChatTemplate}; otherwise the last message's text alone, since a
     * model without a template has no way to tell turns apart.
     */
    public static int[] prompt(LlamaModel model, List<ChatMessage> messages, boolean useChatTemplate) {
        return prompt(model, messages, useChatTemplate ? ChatOptions.defaults() : null);
    }

    /**
     * A conversation as the model reads it: through its own chat template, executed as written, when it has
     * one and {@code chat} is not null; otherwise the last message's text alone, since a model without a
     * template has no way to tell turns apart.
     *
     * @throws dev.blender.nativebridge.chat.ChatTemplateException the template cannot be run or refuses the
     *                                                             conversation
     */
    public static int[] prompt(LlamaModel model, List<ChatMessage> messages, ChatOptions chat) {
        Vocab vocab = model.vocab();
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("no messages to prompt with");
        }
        if (chat != null && vocab.chatTemplate().isPresent()) {
            return vocab.tokenizeChat(vocab.applyChatTemplate(messages, chat));
        }
        return vocab.tokenize(messages.getLast().content(), true, false);
    }

    /**
     * A candidate's text as thinking and answer, for a reasoning model ({@link Vocab#reasoning()}): what the
     * model wrote after {@code prompt}, which may have opened the thinking part itself.
     */
    public static Reasoning.Split answer(LlamaModel model, int[] prompt, String text) {
        Reasoning r = model.vocab().reasoning();
        if (!r.isReasoning()) {
            return new Reasoning.Split("", text);
        }
        // the generation prompt is at the end; its last few tokens say whether it opened a thinking part
        int[] tail = Arrays.copyOfRange(prompt, Math.max(0, prompt.length - 16), prompt.length);
        return r.split(text, r.opensThinking(model.vocab().detokenize(tail, false, true)));
    }

    /** The candidate with only its answer as text ({@link #answer}); its tokens and timings as they were. */
    public static Candidate answerOnly(LlamaModel model, int[] prompt, Candidate c) {
        Reasoning.Split s = answer(model, prompt, c.text());
        return s.answer().equals(c.text()) ? c : c.withText(s.answer());
    }

    /** Generates without streaming. */
    public static List<Candidate> generate(LlamaContext ctx, GenerationRequest request) {
        return generate(ctx, request, TokenListener.NONE);
    }

    /** Generates, reporting every token to {@code listener} as it is produced. */
    public static List<Candidate> generate(LlamaContext ctx, GenerationRequest request, TokenListener listener) {
        Objects.requireNonNull(ctx, "ctx");
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        int n = request.candidates();
        LlamaModel model = ctx.model();
        // an encoder-decoder model reads the prompt with its encoder; its decoder starts from its start token, and
        // only what the decoder holds takes KV cells
        boolean encoderDecoder = model.hasEncoder();
        if (encoderDecoder && !model.hasDecoder()) {
            throw new IllegalArgumentException("model " + model.path().getFileName() + " is encoder-only ("
                    + model.gguf().architecture().orElse("?") + "): it computes embeddings and cannot generate");
        }
        int[] decoderPrompt = encoderDecoder ? new int[] {model.decoderStartToken()} : request.prompt();
        int promptLength = decoderPrompt.length;
        if (n > ctx.maxSequences()) {
            throw new IllegalArgumentException(n + " candidates need a context with maxSequences >= " + n
                    + " (this one: " + ctx.maxSequences() + ")");
        }
        if (encoderDecoder && n > 1 && !LlamaBackend.abi().batchesEncoderDecoder()) {
            throw new IllegalArgumentException(n + " candidates of the encoder-decoder model "
                    + model.path().getFileName() + " cannot be batched with llama.cpp " + LlamaBackend.abi().version()
                    + ", whose " + model.gguf().architecture().orElse("?") + " decoder gives other logits when"
                    + " sequences share a decode; generate one candidate per call, or use llama.cpp v0.5.0"
                    + " (`blender natives install cpu`, BLENDER_LLAMA_LIBRARY), which batches them");
        }
        if (encoderDecoder && request.promptLength() > Math.min(ctx.batchSize(), ctx.microBatchSize())) {
            throw new IllegalArgumentException("a prompt of " + request.promptLength() + " tokens does not fit the"
                    + " encoder of " + model.path().getFileName() + ", which reads it in one pass of at most "
                    + Math.min(ctx.batchSize(), ctx.microBatchSize()) + " tokens (the context's batchSize and"
                    + " microBatchSize, which llama.cpp caps at its contextSize); shorten the prompt or create the"
                    + " context with larger ones");
        }
        if (promptLength + n > ctx.contextSize()) {
            throw new IllegalArgumentException("a prompt of " + promptLength + " tokens and " + n
                    + " candidates do not fit a context of " + ctx.contextSize() + " cells; shorten the prompt or"
                    + " create the context with a larger contextSize");
        }
        Vocab vocab = ctx.model().vocab();
        int vocabSize = ctx.vocabSize();
        Cancellation cancel = request.cancellation();
        int topN = request.topLogprobs();

        Speculation spec = request.speculation();
        // a recurrent memory cannot take back a rejected guess, and a b4916 T5 decoder reads a token otherwise in a
        // decode of several: both decode plainly
        boolean speculate = spec != null && !model.hasRecurrentState()
                && (!encoderDecoder || LlamaBackend.abi().batchesEncoderDecoder());
        // one candidate guesses its first tokens in the prompt's decode; forks would all share that one guess
        int firstMost = speculate && n == 1 ? Math.min(Math.min(spec.maxDraft(),
                request.maxTokens() - 1), ctx.contextSize() - promptLength - 1) : 0;
        int[] firstGuess = firstMost > 0 ? spec.drafter().draft(NO_DRAFT, firstMost) : NO_DRAFT;
        if (firstGuess.length > firstMost) {
            firstGuess = Arrays.copyOf(firstGuess, firstMost);
        }
        long start = System.nanoTime();
        BooleanSupplier cancelled = cancel == null ? () -> false : cancel::isCancelled;
        try (SequenceDecoder decoder = new SequenceDecoder(ctx, cancelled)) {
            try {
                if (encoderDecoder) {
                    int[] all = new int[n];
                    for (int c = 0; c < n; c++) {
                        all[c] = c;
                    }
                    // encoded once for every candidate: each sequence's cross attention reads the prompt
                    decoder.encode(request.prompt(), all);
                }
                decoder.prefill(0, decoderPrompt, firstGuess);
            } catch (CancellationException e) {
                return cancelledBeforeStart(n, listener);
            }
            for (int c = 1; c < n; c++) {
                decoder.fork(0, c);
            }
            double promptMillis = (System.nanoTime() - start) / 1e6;

            Seq[] seqs = new Seq[n];
            float[] scratch = new float[vocabSize];
            TokenLoop.Tokens pieces = TokenLoop.Tokens.of(vocab);
            for (int c = 0; c < n; c++) {
                seqs[c] = new Seq(c, request, decoderPrompt, pieces, listener);
                seqs[c].base = promptLength - 1; // the prompt's last logits, which forks share
            }
            seqs[0].draft = firstGuess;
            seqs[0].drafted = firstGuess.length;
            int live = n;
            while (live > 0) {
                // sample every live candidate's tokens from its logits of the last decode: the one after its
                // last token, then, while the model agrees with the guess decoded behind it, one per guessed token
                for (Seq s : seqs) {
                    if (!s.out.live()) {
                        continue;
                    }
                    int j = 0;
                    while (!s.out.cancelled()) {
                        MemorySegment logits = decoder.logits(s.index, s.base + j);
                        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, 0, scratch, 0, vocabSize);
                        double lse = Sampler.logSumExp(scratch, vocabSize);
                        // the sampler's penalties rewrite scratch: the top list is read from the raw logits first
                        List<TopLogprobs.Alternative> top = topN == 0 ? null
                                : topAlternatives(scratch, vocabSize, topN, lse, vocab);
                        int guess = j < s.draft.length ? s.draft[j] : -1;
                        int token = s.out.sample(scratch, vocabSize, guess);
                        float raw = logits.getAtIndex(ValueLayout.JAVA_FLOAT, token);
                        if (top != null) {
                            s.steps.add(new TopLogprobs(alternative(vocab, token, (float) (raw - lse)), top));
                        }
                        if (j > 0) {
                            s.saved++; // plain decoding would have decoded the guessed token before it for this
                        }
                        if (token == guess) {
                            s.accepted++;
                        }
                        if (!s.out.take(token, (float) (raw - lse)) || token != guess) {
                            break; // ended, or the model's own token: the next decode starts from it
                        }
                        j++;
                    }
                    if (s.out.live() && j < s.draft.length) {
                        // the guessed tokens after the last one kept hold cells the next decode must not see
                        decoder.truncate(s.index, s.base + j + 1);
                    }
                }
                live = 0;
                for (Seq s : seqs) {
                    if (s.out.live()) {
                        live++;
                    } else if (s.result == null) {
                        // cells the prompt shares with live candidates stay: they still carry their ids
                        decoder.end(s.index);
                        s.finish(promptMillis);
                    }
                }
                if (live == 0) {
                    break;
                }
                int free = decoder.freeCells();
                if (free < live) {
                    for (Seq s : seqs) {
                        if (s.out.live()) {
                            s.out.finish(FinishReason.CONTEXT_FULL);
                            s.finish(promptMillis);
                        }
                    }
                    break;
                }
                int spare = free - live; // cells guesses may take without costing any candidate its next token
                int[] stepping = new int[live];
                int[][] tokens = new int[live][];
                int i = 0;
                for (Seq s : seqs) {
                    if (s.out.live()) {
                        // a guess reaches at most the token before maxTokens: the logits after that are never read
                        int most = speculate ? Math.min(Math.min(spec.maxDraft(), spare),
                                request.maxTokens() - s.out.generated() - 1) : 0;
                        int[] guess = most > 0 ? spec.drafter().draft(s.out.generatedTokens(), most) : NO_DRAFT;
                        if (guess.length > most) {
                            guess = Arrays.copyOf(guess, most);
                        }
                        spare -= guess.length;
                        s.draft = guess;
                        s.drafted += guess.length;
                        s.decodes++;
                        s.base = decoder.position(s.index);
                        int[] step = new int[1 + guess.length];
                        step[0] = s.out.lastToken();
                        System.arraycopy(guess, 0, step, 1, guess.length);
                        stepping[i] = s.index;
                        tokens[i++] = step;
                    }
                }
                try {
                    decoder.append(stepping, tokens, SequenceDecoder.LogitsFor.ALL);
                } catch (CancellationException e) {
                    // the tokens sampled this round are kept; the candidates end as the next round would end them
                    for (Seq s : seqs) {
                        s.out.finish(FinishReason.CANCELLED);
                    }
                }
            }
            List<Candidate> out = new ArrayList<>(n);
            for (Seq s : seqs) {
                out.add(s.result);
            }
            return out;
        }
    }

    private static List<Candidate> cancelledBeforeStart(int n, TokenListener listener) {
        List<Candidate> out = new ArrayList<>(n);
        for (int c = 0; c < n; c++) {
            Candidate cand = new Candidate(c, "", new int[0], new float[0], FinishReason.CANCELLED, 0, 0);
            listener.onFinish(cand);
            out.add(cand);
        }
        return out;
    }

    /**
     * The {@code n} largest logits as log-probabilities, best first, ties to the lower id: an insertion into
     * a list of n, so a step costs one pass over the vocabulary and no sort of it.
     */
    static List<TopLogprobs.Alternative> topAlternatives(float[] logits, int vocabSize, int n, double lse, Vocab vocab) {
        int k = Math.min(n, vocabSize);
        int[] ids = new int[k];
        float[] values = new float[k];
        int size = 0;
        for (int t = 0; t < vocabSize; t++) {
            float v = logits[t];
            if (size == k && !(v > values[k - 1])) {
                continue;
            }
            int at = size < k ? size++ : k - 1;
            while (at > 0 && v > values[at - 1]) {
                ids[at] = ids[at - 1];
                values[at] = values[at - 1];
                at--;
            }
            ids[at] = t;
            values[at] = v;
        }
        List<TopLogprobs.Alternative> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(alternative(vocab, ids[i], (float) (values[i] - lse)));
        }
        return out;
    }

    /** A token as servers list it: control tokens by their text, which is what marks an end for a client. */
    static TopLogprobs.Alternative alternative(Vocab vocab, int token, float logprob) {
        if (vocab.isEndOfGeneration(token) || vocab.isControl(token)) {
            String text = vocab.text(token);
            return new TopLogprobs.Alternative(token, text, text.getBytes(StandardCharsets.UTF_8), logprob);
        }
        byte[] piece = vocab.piece(token, false);
        return new TopLogprobs.Alternative(token, new String(piece, StandardCharsets.UTF_8), piece, logprob);
    }

    /** One candidate sequence: its output under the shared rules, and what speculation did for it. */
    private static final class Seq {
        final int index;
        final TokenLoop out;
        /** Filled only when the request asks for top log-probabilities. */
        final List<TopLogprobs> steps = new ArrayList<>();
        /** Position of the sequence's first token with logits in the last decode; guessed tokens follow it. */
        int base;
        /** The tokens guessed after the last token, decoded with it. */
        int[] draft = NO_DRAFT;
        int drafted;
        int accepted;
        int decodes;
        int saved;
        final boolean speculating;
        /** Set once finished and reported. */
        Candidate result;

        /** {@code prefix}: what the sequence holds before its first token, which repetition penalties count. */
        Seq(int index, GenerationRequest request, int[] prefix, TokenLoop.Tokens tokens, TokenListener listener) {
            this.index = index;
            this.out = new TokenLoop(index, request.decode(), request.candidateSeed(index), prefix, tokens, listener);
            this.speculating = request.speculation() != null;
        }

        void finish(double promptMillis) {
            result = out.result(promptMillis, steps,
                    speculating ? new SpeculationStats(drafted, accepted, decodes, saved) : SpeculationStats.NONE);
        }
    }
}
