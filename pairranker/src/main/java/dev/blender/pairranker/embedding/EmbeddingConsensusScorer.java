package dev.blender.pairranker.embedding;

import dev.blender.pairranker.CandidateScorer;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scores candidates by agreement with one another, minimum-Bayes-risk style, with no judge model: each
 * candidate and the instruction are embedded with the quantised all-MiniLM-L6-v2 sentence encoder, run
 * in-process by langchain4j on ONNX Runtime, and candidate {@code i} scores
 *
 * <pre>  mean over j != i of cos(e_i, e_j)  +  instructionWeight * cos(e_i, e_instruction)</pre>
 *
 * The consensus term is 0 when there is one candidate. Identical candidate texts are embedded once per
 * call but still count as separate voters, so a repeated answer supports itself. Empty or whitespace-only
 * texts have similarity 0 to everything.
 *
 * <p>The model loads on the first {@link #score}, {@link #similarity} or {@link #warmUp} call. langchain4j
 * keeps the ONNX session in a static field, so the weights are read once per JVM and stay loaded after
 * {@link #close()}, which releases this instance's worker threads only.
 *
 * <p>Thread-safe: any method may be called from several threads at once. ONNX Runtime allows concurrent
 * runs on one session, and langchain4j itself embeds a batch from a thread pool; the tests check that
 * concurrent calls give the sequential results. Calls after {@link #close()} throw
 * {@link IllegalStateException}.
 */
public final class EmbeddingConsensusScorer implements CandidateScorer, AutoCloseable {
    /** The weight of the instruction term unless one is given. */
    public static final double DEFAULT_INSTRUCTION_WEIGHT = 0.1;

    private static final String MODEL_NAME = "all-minilm-l6-v2-q";

    private final double instructionWeight;
    private final int parallelism;
    private final Object lock = new Object();
    private volatile Loaded loaded;
    private volatile boolean closed;

    private record Loaded(EmbeddingModel model, ExecutorService executor) {}

    /** A scorer with instruction weight {@value #DEFAULT_INSTRUCTION_WEIGHT}. */
    public EmbeddingConsensusScorer() {
        this(DEFAULT_INSTRUCTION_WEIGHT);
    }

    /** A scorer with the given instruction weight and one embedding thread per processor. */
    public EmbeddingConsensusScorer(double instructionWeight) {
        this(instructionWeight, Runtime.getRuntime().availableProcessors());
    }

    private EmbeddingConsensusScorer(double instructionWeight, int parallelism) {
        if (!Double.isFinite(instructionWeight) || instructionWeight < 0) {
            throw new IllegalArgumentException("instructionWeight must be finite and >= 0, got " + instructionWeight);
        }
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
        }
        this.instructionWeight = instructionWeight;
        this.parallelism = parallelism;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Settings for an {@link EmbeddingConsensusScorer}; validated by {@link #build()}. */
    public static final class Builder {
        private double instructionWeight = DEFAULT_INSTRUCTION_WEIGHT;
        private int parallelism = Runtime.getRuntime().availableProcessors();

        private Builder() {}

        /** The weight of the similarity to the instruction: finite and {@code >= 0}, 0 ignores it. */
        public Builder instructionWeight(double instructionWeight) {
            this.instructionWeight = instructionWeight;
            return this;
        }

        /** How many texts are embedded at once, {@code >= 1}; defaults to the number of processors. */
        public Builder parallelism(int parallelism) {
            this.parallelism = parallelism;
            return this;
        }

        public EmbeddingConsensusScorer build() {
            return new EmbeddingConsensusScorer(instructionWeight, parallelism);
        }
    }

    public double instructionWeight() {
        return instructionWeight;
    }

    @Override
    public String id() {
        return "embedding-consensus(" + MODEL_NAME + ", instructionWeight=" + instructionWeight + ")";
    }

    /** Loads the model now rather than on the first call, for callers that want to pay that up front. */
    public void warmUp() {
        loaded();
    }

    /** The cosine similarity of the embeddings of two texts. */
    public double similarity(String a, String b) {
        Objects.requireNonNull(a, "a must not be null");
        Objects.requireNonNull(b, "b must not be null");
        Map<String, float[]> e = embedAll(List.of(a, b));
        return cosine(e.get(a), e.get(b));
    }

    @Override
    public double[] score(String instruction, List<String> candidates) {
        Objects.requireNonNull(instruction, "instruction must not be null");
        Objects.requireNonNull(candidates, "candidates must not be null");
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("candidates must not be empty");
        }
        for (int i = 0; i < candidates.size(); i++) {
            if (candidates.get(i) == null) {
                throw new NullPointerException("candidate " + i + " is null; use \"\" for an empty answer");
            }
        }
        int n = candidates.size();
        List<String> texts = new ArrayList<>(candidates);
        boolean useInstruction = instructionWeight > 0;
        if (useInstruction) {
            texts.add(instruction);
        }
        Map<String, float[]> embedding = embedAll(texts);

        float[][] e = new float[n][];
        for (int i = 0; i < n; i++) {
            e[i] = embedding.get(candidates.get(i));
        }
        double[] consensus = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double c = cosine(e[i], e[j]);
                consensus[i] += c;
                consensus[j] += c;
            }
        }
        float[] q = useInstruction ? embedding.get(instruction) : null;
        double[] scores = new double[n];
        for (int i = 0; i < n; i++) {
            scores[i] = n == 1 ? 0 : consensus[i] / (n - 1);
            if (useInstruction) {
                scores[i] += instructionWeight * cosine(e[i], q);
            }
        }
        return scores;
    }

    /** Releases this instance's threads; idempotent. The JVM-wide model stays loaded (see the type doc). */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            Loaded l = loaded;
            loaded = null;
            if (l != null) {
                l.executor().shutdown();
            }
        }
    }

    private Loaded loaded() {
        Loaded l = loaded;
        if (l != null) {
            return l;
        }
        synchronized (lock) {
            if (closed) {
                throw closedException();
            }
            if (loaded == null) {
                ExecutorService executor = Executors.newFixedThreadPool(parallelism, daemonThreads());
                // the first construction in a JVM initialises the class, which reads the model; handing it
                // our pool stops it from making one of its own that close() could not stop
                loaded = new Loaded(new AllMiniLmL6V2QuantizedEmbeddingModel(executor), executor);
            }
            return loaded;
        }
    }

    /** Embeds each distinct text once, in parallel; the map is keyed by text. */
    private Map<String, float[]> embedAll(List<String> texts) {
        Loaded l = loaded();
        List<String> distinct = List.copyOf(new LinkedHashSet<>(texts));
        List<CompletableFuture<float[]>> rest = new ArrayList<>();
        try {
            for (String text : distinct.subList(1, distinct.size())) {
                rest.add(CompletableFuture.supplyAsync(() -> embed(l.model(), text), l.executor()));
            }
        } catch (RejectedExecutionException e) {
            throw closedException();
        }
        Map<String, float[]> out = new HashMap<>();
        // the calling thread takes the first text itself rather than idling while it waits
        out.put(distinct.getFirst(), embed(l.model(), distinct.getFirst()));
        try {
            for (int k = 0; k < rest.size(); k++) {
                out.put(distinct.get(k + 1), rest.get(k).join());
            }
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        return out;
    }

    /** An empty answer says nothing, so it gets the zero vector: similarity 0 to everything. */
    private static final float[] NOTHING = new float[0];

    private static float[] embed(EmbeddingModel model, String text) {
        if (text.isBlank()) {
            return NOTHING;
        }
        try {
            return model.embed(text).content().vector();
        } catch (IllegalArgumentException e) {
            // langchain4j's only refusal of a non-blank text: one with no word pieces (control or
            // format characters alone), as empty as a blank one
            return NOTHING;
        }
    }

    static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            return 0; // one of them is NOTHING
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int d = 0; d < a.length; d++) {
            dot += (double) a[d] * b[d];
            na += (double) a[d] * a[d];
            nb += (double) b[d] * b[d];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.sqrt(na * nb);
    }

    private IllegalStateException closedException() {
        return new IllegalStateException(id() + " is closed");
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        // daemon, so that a scorer never closed does not keep the JVM alive
        return r -> {
            Thread t = new Thread(r, "embedding-consensus-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
