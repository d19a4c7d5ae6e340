package dev.blender.runtime.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.runtime.Names;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import dev.blender.runtime.combine.TextScorer;
import dev.blender.runtime.combine.TextScorer.Score;
import dev.blender.runtime.combine.VocabAlignment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Bits per UTF-8 byte of a text under each model alone and under linear and log-linear combinations of
 * them (what {@code blender perplexity} prints): with equal weights, with adaptive weights (online Bayesian,
 * fixed share) and with a gate learnt online, both learning across the pieces in order. Bytes, not tokens,
 * so models with different vocabularies compare (they are aligned by token text). Each piece is scored from
 * BOS in a context of at most 512 tokens. Immutable; {@link #score} loads and frees its models.
 */
public final class Perplexity {
    private static final Pattern PARAGRAPH = Pattern.compile("\\n\\s*\\n");

    private final List<Adaptation> adaptations;
    private final float switchRate;
    private final float learningRate;

    /** One row: the method, its total over every piece, and for adaptive rows the weights at the end (else null). */
    public record Row(String method, Score score, float[] finalWeights) {}

    /** Told after each piece is scored, {@code done} of {@code total} over every row. */
    @FunctionalInterface
    public interface Listener {
        void scored(int done, int total, String method);

        /** A row is complete. */
        default void rowDone(Row row) {}
    }

    /**
     * @param adaptations the weightings of the combined rows, in order (fixed: rows {@code token:METHOD}; bayes:
     *                    {@code token:METHOD-adaptive}; learned: {@code token:METHOD-learned})
     * @param switchRate the fixed-share rate of the bayes rows
     * @param learningRate the learning rate of the learned rows
     */
    public Perplexity(List<Adaptation> adaptations, float switchRate, float learningRate) {
        this.adaptations = adaptations.stream().map(a -> Objects.requireNonNull(a, "adaptation")).distinct().toList();
        this.switchRate = switchRate;
        this.learningRate = learningRate;
    }

    /**
     * Scores {@code pieces} under each model ({@code member:NAME} rows) and, with two or more, under every
     * combination.
     */
    public List<Row> score(List<Path> models, ModelOptions options, List<String> pieces, Listener listener) {
        List<LlamaModel> loaded = new ArrayList<>();
        try {
            List<LlamaContext> contexts = new ArrayList<>();
            for (Path p : models) {
                LlamaModel m = LlamaModel.load(p, options);
                loaded.add(m);
                contexts.add(m.newContext(ContextOptions.defaults().withContextSize(Math.min(512, m.trainingContextLength()))
                        .withBatchSize(512)));
            }
            int total = pieces.size() * (models.size() + (models.size() > 1 ? 2 * adaptations.size() : 0));
            int done = 0;
            List<Row> rows = new ArrayList<>();
            for (int k = 0; k < models.size(); k++) {
                Score s = Score.ZERO;
                for (String piece : pieces) {
                    s = s.plus(TextScorer.single(contexts.get(k), piece));
                    listener.scored(++done, total, models.get(k).getFileName().toString());
                }
                rows.add(row(new Row("member:" + memberName(models.get(k)), s, null), listener));
            }
            if (models.size() < 2) {
                return rows;
            }
            for (Adaptation adaptation : adaptations) {
                for (CombineMethod method : new CombineMethod[] {CombineMethod.LINEAR, CombineMethod.LOG_LINEAR}) {
                    CombineOptions o = CombineOptions.equal(method, models.size());
                    String name = "token:" + Names.id(method) + switch (adaptation) {
                        case FIXED -> "";
                        case BAYES -> "-adaptive";
                        case LEARNED -> "-learned";
                    };
                    o = switch (adaptation) {
                        case FIXED -> o;
                        case BAYES -> o.adaptive(switchRate);
                        case LEARNED -> o.learned(learningRate);
                    };
                    TextScorer scorer = new TextScorer(contexts, o, VocabAlignment.Policy.ALIGN_BY_TEXT);
                    Score s = Score.ZERO;
                    for (String piece : pieces) {
                        s = s.plus(scorer.score(piece));
                        listener.scored(++done, total, name);
                    }
                    rows.add(row(new Row(name, s, adaptation == Adaptation.FIXED ? null : scorer.weights()), listener));
                }
            }
            return rows;
        } finally {
            loaded.forEach(LlamaModel::close);
        }
    }

    private static Row row(Row r, Listener listener) {
        listener.rowDone(r);
        return r;
    }

    /** A model's row name: its file name without {@code .gguf} (as {@code blender blend} names its rows). */
    static String memberName(Path model) {
        return dev.blender.runtime.member.Member.shortName(model);
    }

    /** The rows as {@code {"rows": [{"method", "bits_per_byte", "tokens", "bytes"}]}}. */
    public static ObjectNode toJson(List<Row> rows) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        var array = root.putArray("rows");
        rows.forEach(r -> array.addObject().put("method", r.method()).put("bits_per_byte", r.score().bitsPerByte())
                .put("tokens", r.score().tokens()).put("bytes", r.score().bytes()));
        return root;
    }

    /** The text after its first {@code bytes} bytes, cut at a paragraph boundary (whole paragraphs skipped). */
    public static String skip(String all, int bytes) {
        if (bytes <= 0) {
            return all;
        }
        int used = 0;
        int at = 0;
        Matcher m = PARAGRAPH.matcher(all);
        while (used < bytes && m.find()) {
            used += bytes(all.substring(at, m.end()));
            at = m.end();
        }
        return all.substring(at);
    }

    /**
     * Splits on blank lines, then at sentence ends into pieces of at most {@code max} bytes, until
     * {@code budget} bytes; a sentence longer than {@code max} is left out rather than cut mid-word.
     */
    public static List<String> pieces(String all, int max, int budget) {
        List<String> out = new ArrayList<>();
        int used = 0;
        for (String para : PARAGRAPH.split(all)) {
            StringBuilder cur = new StringBuilder();
            for (String sentence : para.strip().split("(?<=[.!?])\\s+")) {
                if (cur.length() > 0 && bytes(cur + " " + sentence) > max) {
                    used += add(out, cur.toString());
                    cur.setLength(0);
                }
                if (bytes(sentence) > max) {
                    continue;
                }
                cur.append(cur.length() > 0 ? " " : "").append(sentence);
            }
            if (cur.length() > 0) {
                used += add(out, cur.toString());
            }
            if (used >= budget) {
                break;
            }
        }
        return out;
    }

    private static int add(List<String> out, String s) {
        out.add(s);
        return bytes(s);
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
