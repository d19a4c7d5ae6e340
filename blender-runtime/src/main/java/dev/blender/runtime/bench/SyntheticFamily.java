package dev.blender.runtime.bench;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.CacheDir;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufFormatException;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A family of random-weight models of one realistic shape for latency work: two generators, a judge and a
 * fuser, all with one byte-level BPE vocabulary, so every strategy (sampling, ranking, fusing, per-token
 * mixing) runs on them. Speed does not depend on the weights' values, so these measure what the real
 * models of that shape would cost, without a model hub. Written once into a cache folder (never into the
 * repository) and reused; a file that no longer reads as the expected model is written again.
 *
 * <p>Random weights never stop on their own nor write a template's stop text, so whatever runs on a family
 * runs to its length limits: the judge's rationale and every answer have the length asked for.
 */
public record SyntheticFamily(String shape, List<Path> generators, Path judge, Path fuser) {

    /** The shapes by name: {@code qwen2-0.5b-q8_0}, {@code qwen2-0.5b-q4_0}. */
    private static final Map<String, Supplier<SyntheticLlama.Builder>> SHAPES = builtInShapes();

    public SyntheticFamily {
        Objects.requireNonNull(shape, "shape");
        generators = List.copyOf(generators);
        Objects.requireNonNull(judge, "judge");
        Objects.requireNonNull(fuser, "fuser");
    }

    private static Map<String, Supplier<SyntheticLlama.Builder>> builtInShapes() {
        Map<String, Supplier<SyntheticLlama.Builder>> m = new LinkedHashMap<>();
        for (GgmlType t : List.of(GgmlType.Q8_0, GgmlType.Q4_0)) {
            // Qwen2-0.5B: 24 layers, width 896, 14 heads over 2 key/value heads, FFN 4864, 151,936 tokens
            m.put("qwen2-0.5b-" + t.name().toLowerCase(Locale.ROOT), () -> SyntheticLlama.builder()
                    .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).vocabSize(151_936).layers(24)
                    .embeddingLength(896).heads(14).kvHeads(2).feedForwardLength(4864).contextLength(4096)
                    .tensorType(t));
        }
        return m;
    }

    /**
     * The judge's template: no stop text a random model could write, so the rationale runs to
     * {@code rationaleTokens} before the verdict is read.
     */
    public static JudgeTemplate judgeTemplate(int rationaleTokens) {
        return new JudgeTemplate(
                "Instruction: {instruction}\nResponse A: {first}\nResponse B: {second}\nWhich is better, A or B?\n",
                "\u0000verdict\u0000", " A", " B", rationaleTokens);
    }

    /** The names {@link #of} takes. */
    public static List<String> shapes() {
        return List.copyOf(SHAPES.keySet());
    }

    /** The family of {@code shape} in the cache ({@link CacheDir}), written first where missing. */
    public static SyntheticFamily of(String shape, Consumer<String> progress) throws IOException {
        return of(shape, CacheDir.root().resolve("models").resolve("synthetic-" + shape), progress);
    }

    /**
     * The family of {@code shape} in {@code dir}, written first where missing or unreadable.
     *
     * @param progress told of each file it writes (a minute or so each at 0.5B), so a caller can say why it waits
     * @throws IllegalArgumentException an unknown shape, naming the known ones
     */
    public static SyntheticFamily of(String shape, Path dir, Consumer<String> progress) throws IOException {
        Supplier<SyntheticLlama.Builder> spec = SHAPES.get(shape);
        if (spec == null) {
            throw new IllegalArgumentException("unknown synthetic shape '" + shape + "' (known: "
                    + String.join(", ", shapes()) + ")");
        }
        return write(shape, spec.get(), dir, progress);
    }

    /**
     * A family of the shape {@code spec} describes (its seeds and name are the family's own), named
     * {@code shape}, in {@code dir}: written first where missing or unreadable.
     */
    public static SyntheticFamily write(String shape, SyntheticLlama.Builder spec, Path dir, Consumer<String> progress)
            throws IOException {
        Files.createDirectories(dir);
        // one vocabulary for all (they mix per token), generated once; a weight seed each
        List<Path> files = new ArrayList<>();
        String[] roles = {"generator-a", "generator-b", "judge", "fuser"};
        SyntheticLlama shared = spec.vocabularySeed(1).build();
        for (int i = 0; i < roles.length; i++) {
            SyntheticLlama model = shared.withWeights(i + 1, "synthetic " + shape + " " + roles[i]);
            Path file = dir.resolve(roles[i] + ".gguf");
            if (!matches(file, model)) {
                progress.accept("writing " + file + " (" + String.format(Locale.ROOT, "%,d", model.fileSize())
                        + " bytes, once)");
                model.writeTo(file);
            }
            files.add(file);
        }
        return new SyntheticFamily(shape, files.subList(0, 2), files.get(2), files.get(3));
    }

    /** The file is there, whole, and says it is this model (an interrupted or older write is not). */
    private static boolean matches(Path file, SyntheticLlama model) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) != model.fileSize()) {
            return false;
        }
        try {
            GgufFile g = GgufFile.read(file);
            return g.string("general.name").filter(model.name()::equals).isPresent();
        } catch (GgufFormatException e) {
            return false;
        }
    }

    /** The fuser's template: the LLM-Blender prompt on raw text, each candidate cut to {@code tokens}. */
    public static FuserTemplate fuserTemplate(int tokens) {
        FuserTemplate t = FuserTemplate.llmBlender();
        return new FuserTemplate(t.prompt(), t.candidateFormat(), t.separator(), t.candidates(), tokens, false);
    }

    /** Every model file. */
    public List<Path> files() {
        List<Path> all = new ArrayList<>(generators);
        all.add(judge);
        all.add(fuser);
        return all;
    }

    /** The bytes of every model file together. */
    public long fileBytes() throws IOException {
        long n = 0;
        for (Path p : files()) {
            n += Files.size(p);
        }
        return n;
    }
}
