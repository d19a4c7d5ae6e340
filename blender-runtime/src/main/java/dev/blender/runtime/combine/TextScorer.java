package dev.blender.runtime.combine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.SequenceDecoder;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Teacher-forced scoring of text: the negative log-likelihood a model, or a per-token combination of
 * models, assigns to it. The combination scores the first member's tokenisation; a member with another
 * vocabulary reads the same text spelt with its own tokens ({@link VocabAlignment#feed}) and predicts
 * each of the first member's tokens from where its own spelling of the text so far ends. Reported per
 * UTF-8 byte, scores of models with different vocabularies compare.
 *
 * <p>Each text is scored independently from BOS; it must fit the members' contexts and batches.
 * Adaptive weights ({@link CombineOptions.Adaptation}) learn online across texts, as over one stream
 * read in pieces, each token's weights from what came before it; {@link #resetWeights()} starts again
 * from the prior. Not thread-safe.
 */
public final class TextScorer {
    /** Nats over a text's tokens, the tokens scored, and its UTF-8 bytes. */
    public record Score(double nats, long tokens, long bytes) {
        public Score plus(Score o) {
            return new Score(nats + o.nats, tokens + o.tokens, bytes + o.bytes);
        }

        public double bitsPerByte() {
            return bytes == 0 ? 0 : nats / Math.log(2) / bytes;
        }

        public static final Score ZERO = new Score(0, 0, 0);
    }

    private final List<LlamaContext> members;
    private final MemberRows rows;
    private final VocabAlignment alignment;
    private final AdaptiveCombiner mixer;
    private final float[] out;

    public TextScorer(List<LlamaContext> members, CombineOptions options, VocabAlignment.Policy policy) {
        this.members = List.copyOf(Objects.requireNonNull(members, "members"));
        this.rows = new MemberRows(members, policy);
        this.alignment = rows.alignment;
        this.mixer = new AdaptiveCombiner(options);
        if (options.members() != members.size()) {
            throw new IllegalArgumentException(options + " combines " + options.members() + " models, got "
                    + members.size());
        }
        this.out = new float[alignment.size()];
    }

    /** Adaptive weights back to their prior. */
    public void resetWeights() {
        mixer.reset();
    }

    /** The member weights now: the options' own, or what adaptive weights have learnt. */
    public float[] weights() {
        return mixer.weights();
    }

    /** The text under member {@code k} alone, with its own tokenisation. */
    public static Score single(LlamaContext ctx, String text) {
        int[] tokens = ctx.model().vocab().tokenize(text);
        try (SequenceDecoder decoder = decodeAll(ctx, tokens)) {
            double nats = 0;
            for (int i = 1; i < tokens.length; i++) {
                nats -= logSoftmaxAt(decoder.logits(0, i - 1), ctx.vocabSize(), tokens[i]);
            }
            return new Score(nats, tokens.length - 1, text.getBytes(StandardCharsets.UTF_8).length);
        }
    }

    /** The text under the combination. */
    public Score score(String text) {
        int[] first = members.get(0).model().vocab().tokenize(text);
        int n = first.length;
        int[] target = new int[n];
        for (int i = 0; i < n; i++) {
            target[i] = alignment.unionId(0, first[i]);
        }
        int k = members.size();
        SequenceDecoder[] decoders = new SequenceDecoder[k];
        try {
            return score(text, first, target, decoders);
        } finally {
            for (SequenceDecoder d : decoders) {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    private Score score(String text, int[] first, int[] target, SequenceDecoder[] decoders) {
        int n = first.length;
        int k = members.size();
        int[][] predictRow = new int[k][n];
        for (int m = 0; m < k; m++) {
            // member m reads BOS, then each target token spelt its way; the row after token i predicts i + 1
            List<Integer> seq = new ArrayList<>();
            seq.add(m == 0 ? first[0] : bosOf(m, first[0]));
            for (int i = 1; i < n; i++) {
                predictRow[m][i] = seq.size() - 1;
                if (i < n - 1) {
                    for (int id : alignment.feed(m, target[i])) {
                        seq.add(id);
                    }
                }
            }
            decoders[m] = decodeAll(members.get(m), seq.stream().mapToInt(Integer::intValue).toArray());
        }
        double nats = 0;
        for (int i = 1; i < n; i++) {
            for (int m = 0; m < k; m++) {
                rows.own[m] = decoders[m].logits(0, predictRow[m][i]);
            }
            MemorySegment[] view = rows.view(mixer.options().method());
            mixer.combine(view, alignment.size(), i, out);
            nats -= out[target[i]];
            mixer.observe(view, alignment.size(), out, target[i]);
        }
        return new Score(nats, n - 1, text.getBytes(StandardCharsets.UTF_8).length);
    }

    private int bosOf(int m, int firstBos) {
        int u = alignment.unionId(0, firstBos);
        int id = alignment.memberId(m, u);
        return id >= 0 ? id : members.get(m).model().vocab().bos();
    }

    /** Decodes tokens into sequence 0 of a cleared context with logits for every position. */
    private static SequenceDecoder decodeAll(LlamaContext ctx, int[] tokens) {
        // one batch: logits of every position of a longer text would all have to be copied out
        if (tokens.length > ctx.batchSize() || tokens.length > ctx.contextSize()) {
            throw new IllegalArgumentException("a text of " + tokens.length + " tokens does not fit "
                    + ctx.model().path().getFileName() + "'s context (" + ctx.contextSize() + " cells, batch "
                    + ctx.batchSize() + "); score shorter pieces");
        }
        SequenceDecoder decoder = new SequenceDecoder(ctx);
        try {
            decoder.append(0, tokens, 0);
        } catch (RuntimeException e) {
            decoder.close();
            throw e;
        }
        return decoder;
    }

    static float logSoftmaxAt(MemorySegment row, int n, int token) {
        float max = VectorCombiner.max(row, n);
        double sum = VectorCombiner.sumExp(row, n, max);
        return (float) (row.getAtIndex(JAVA_FLOAT, token) - max - Math.log(sum));
    }
}
