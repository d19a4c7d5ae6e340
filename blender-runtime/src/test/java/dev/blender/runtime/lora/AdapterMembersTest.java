package dev.blender.runtime.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.merge.MergeListener;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.ModelPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generators that are LoRA adapters over one base (../shared/models/specialists), through the pipeline:
 * the base loads once, each context carries its member's adapter, and an adapter member answers as the
 * model it is equivalent to (the tuned matrices over the base's norms) in every composition.
 */
class AdapterMembersTest {
    @TempDir
    static Path out;
    static Path base;
    static Path addAdapter;
    static Path subAdapter;
    static Path addMatrices;
    static Path subMatrices;

    @BeforeAll
    static void extract() throws IOException {
        Path dir = TestModels.sharedFile("models/specialists");
        base = dir.resolve("base.gguf");
        addAdapter = LoraExtractor.extract(base, dir.resolve("add.gguf"), 1_000, out.resolve("add.lora.gguf"),
                MergeListener.NONE).output();
        subAdapter = LoraExtractor.extract(base, dir.resolve("sub.gguf"), 1_000, out.resolve("sub.lora.gguf"),
                MergeListener.NONE).output();
        addMatrices = LoraSpecialistsTest.matricesOver(base, dir.resolve("add.gguf"), out.resolve("add-matrices.gguf"));
        subMatrices = LoraSpecialistsTest.matricesOver(base, dir.resolve("sub.gguf"), out.resolve("sub-matrices.gguf"));
    }

    static BlenderConfig.Builder arith() {
        return Blender.builder().contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:")
                .modelOptions(ModelOptions.defaults().withThreads(1));
    }

    static List<Problem> dev(int n) throws IOException {
        return Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), n);
    }

    /** Every row's answer to every problem, by row. */
    static Map<String, List<String>> answers(Blender blender, List<Composition> rows, List<Problem> problems) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        new Evaluation(blender, rows, AnswerChecker.EXACT, null).run(problems, 1, new Evaluation.Listener() {
            @Override
            public void problemDone(int done, int total, List<Evaluation.Row> sofar) {}

            @Override
            public void answered(int index, Problem p, String method, BlendResult r, boolean right) {
                out.computeIfAbsent(method, k -> new java.util.ArrayList<>()).add(r.answer().strip());
            }
        });
        return out;
    }

    static int same(List<String> x, List<String> y) {
        int n = 0;
        for (int i = 0; i < x.size(); i++) {
            n += x.get(i).equals(y.get(i)) ? 1 : 0;
        }
        return n;
    }

    @Test
    void anAdapterMemberAnswersAsTheModelItIsEquivalentTo() throws IOException {
        List<Problem> problems = dev(100);
        try (Blender blender = arith().generator(base, addAdapter, 1f, "add").generator(addMatrices).generator(base).build()) {
            Map<String, List<String>> a = answers(blender, List.of(Composition.named("member:add"),
                    Composition.named("member:add-matrices"), Composition.named("member:base")), problems);
            assertEquals(a.get("member:add-matrices"), a.get("member:add"), "base + full-rank adapter, greedy, 100 problems");
            // the plain base shares the loaded base with the adapter member, and its pooled context must
            // not keep the adapter
            assertTrue(same(a.get("member:add"), a.get("member:base")) < 100, "the adapter changes answers");
            assertEquals(2, dev.blender.runtime.pipeline.Pools.of(blender).loadedModels(), "base (shared by base and add) and add-matrices");
        }
        try (Blender alone = arith().generator(base).build()) {
            Map<String, List<String>> b = answers(alone, List.of(Composition.named("member:base")), problems);
            try (Blender shared = arith().generator(base, addAdapter, 1f, "add").generator(base).build()) {
                Map<String, List<String>> s = answers(shared, List.of(Composition.named("member:add"),
                        Composition.named("member:base")), problems);
                assertEquals(b.get("member:base"), s.get("member:base"), "the base after its context carried an adapter");
            }
        }
    }

    @Test
    void membersOverOneBaseLoadItOnceAndMixPerToken() throws IOException {
        List<Problem> problems = dev(50);
        Map<String, List<String>> adapters;
        try (Blender blender = arith().generatorAdapter(base, addAdapter, 1f).generatorAdapter(base, subAdapter, 1f)
                .judge(TestModels.sharedFile("models/arith/judge.gguf"), JudgeTemplate.arith())
                .fuser(TestModels.sharedFile("models/arith/fuser.gguf"), FuserTemplate.arith()).candidatesPerModel(2)
                .build()) {
            assertEquals(List.of("add.lora", "sub.lora"), blender.config().generatorNames());
            adapters = answers(blender, List.of(Composition.named("token:loglinear")), problems);
            ModelPool pool = dev.blender.runtime.pipeline.Pools.of(blender);
            assertEquals(1, pool.loadedModels(), "the base, once for both members");
            assertEquals(2, pool.loadedAdapters());
            for (String c : List.of("full-blend", "majority", "member:sub.lora")) {
                BlendResult r = blender.blend(BlendRequest.builder().prompt("37+48=").composition(Composition.named(c)).build());
                assertTrue(!r.answer().isBlank(), c);
            }
            assertEquals(3, pool.loadedModels(), "the base, the judge and the fuser");
            assertEquals(0, pool.leasesOut());
        }
        Map<String, List<String>> files;
        try (Blender blender = arith().generator(addMatrices).generator(subMatrices).build()) {
            files = answers(blender, List.of(Composition.named("token:loglinear")), problems);
        }
        int same = same(adapters.get("token:loglinear"), files.get("token:loglinear"));
        System.out.printf(Locale.ROOT, "llama.cpp %s: token:loglinear over two adapters vs the two equivalent files: %d/50"
                + " answers equal%n", LlamaBackend.version(), same);
        assertTrue(same >= 48, same + "/50 equal");
    }

    @Test
    void concurrentLeasesOfOneBaseGetTheirOwnContextsAndAdapters() {
        ContextOptions options = ContextOptions.defaults().withContextSize(64);
        ModelOptions one = ModelOptions.defaults().withThreads(1);
        try (ModelPool pool = new ModelPool(1L << 30)) {
            ModelPool.Lease add = pool.lease(base, one, options, addAdapter, 1f);
            ModelPool.Lease sub = pool.lease(base, one, options, subAdapter, 0.5f);
            assertSame(add.model(), sub.model());
            assertNotSame(add.context(), sub.context());
            assertEquals(Map.of(addAdapter.toAbsolutePath().normalize(), 1f), applied(add));
            assertEquals(Map.of(subAdapter.toAbsolutePath().normalize(), 0.5f), applied(sub));
            var addContext = add.context();
            add.close();
            sub.close();
            try (ModelPool.Lease plain = pool.lease(base, one, options)) {
                assertTrue(plain.context().loraAdapters().isEmpty(), "a plain lease applies no adapter");
            }
            assertEquals(1, pool.loadedModels());
            assertEquals(2, pool.loadedAdapters(), "each adapter loaded once");
            try (ModelPool.Lease again = pool.lease(base, one, options, addAdapter, 1f)) {
                assertEquals(Map.of(addAdapter.toAbsolutePath().normalize(), 1f), applied(again));
                assertTrue(again.context() == addContext || pool.idleContexts() == 1);
            }
            assertEquals(2, pool.loadedAdapters());
        }
    }

    private static Map<Path, Float> applied(ModelPool.Lease l) {
        Map<Path, Float> m = new HashMap<>();
        l.context().loraAdapters().forEach((a, s) -> m.put(a.path().toAbsolutePath().normalize(), s));
        return m;
    }

    @Test
    void badEntriesAreRefusedNamingTheFile() throws IOException {
        Path missing = out.resolve("no-such-base.gguf");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> arith().generator(missing, addAdapter, 1f, "add").buildConfig());
        assertTrue(e.getMessage().contains("no-such-base.gguf"), e.getMessage());

        Path other = TestModels.stories();
        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(other, addAdapter, 1f, "add").buildConfig());
        assertTrue(e.getMessage().contains("add.lora.gguf") && e.getMessage().contains("stories260K.gguf"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(base, addMatrices, 1f, "add").buildConfig());
        assertTrue(e.getMessage().contains("add-matrices.gguf") && e.getMessage().contains("adapter"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(base, addAdapter, 1f, "add")
                .generator(base, subAdapter, 1f, "add").buildConfig());
        assertTrue(e.getMessage().contains("named 'add'"), e.getMessage());

        Path json = out.resolve("bad.json");
        Files.writeString(json, "{\"models\": [{\"path\": \"x.gguf\", \"adapter\": \"add.lora.gguf\", \"base\": \"b.gguf\"}]}");
        e = assertThrows(IllegalArgumentException.class, () -> BlenderConfigJson.load(json));
        assertTrue(e.getMessage().contains("no 'path'"), e.getMessage());
    }

    @Test
    void recipesListAdapterMembers() throws IOException {
        Path recipe = out.resolve("adapters.recipe.json");
        Files.writeString(recipe, """
                {"models": [{"name": "add", "base": "%s", "adapter": "add.lora.gguf", "scale": 1.0, "role": "generator"},
                            {"base": "%s", "adapter": "sub.lora.gguf", "threads": 1}],
                 "contextSize": 64, "maxTokens": 8, "threads": 1, "generatorPrompt": "Q: {prompt} A:",
                 "eval": {"name": "adapters", "checker": "exact"}}
                """.formatted(base, base));
        BlenderConfig config = BlenderConfig.load(recipe);
        assertEquals(List.of("add", "sub.lora"), config.generatorNames());
        assertEquals(base, config.adapterBase(config.generatorNamed("add")).orElseThrow());
        assertEquals(1.0, config.adapterScale(config.generatorNamed("sub.lora")).orElseThrow());
        Member.Adapter add = org.junit.jupiter.api.Assertions.assertInstanceOf(Member.Adapter.class, config.members().get(0));
        assertEquals(base, add.base());
        assertEquals("add.lora.gguf", add.adapter().getFileName().toString());
        assertEquals("add", add.label());
        assertEquals("sub.lora", config.members().get(1).label(), "an unnamed adapter member is its file's short name");
        List<String> rows = Recipe.load(recipe, null).compositionsFor(config).stream().map(Composition::name).toList();
        assertTrue(rows.containsAll(List.of("member:add", "member:sub.lora", "token:loglinear", "majority")), rows.toString());
    }

    /**
     * The measurement (run with -Dblender.measure=true): the blend over the two adapters against
     * the blend over the two full specialist files, all 500 dev problems.
     */
    @Test
    @EnabledIfSystemProperty(named = "blender.measure", matches = "true")
    void measureAdaptersAgainstFullFiles() throws IOException {
        List<Problem> problems = dev(500);
        Path dir = base.getParent();
        List<Composition> rows = List.of(Composition.named("token:loglinear"), Composition.named("majority"));
        for (boolean adapters : new boolean[] {true, false}) {
            BlenderConfig.Builder b = adapters
                    ? arith().generator(base, addAdapter, 1f, "add").generator(base, subAdapter, 1f, "sub")
                    : arith().generator(dir.resolve("add.gguf")).generator(dir.resolve("sub.gguf"));
            try (Blender blender = b.build()) {
                long t0 = System.nanoTime();
                List<Evaluation.Row> table = new Evaluation(blender, rows, AnswerChecker.EXACT, null).run(problems, 1,
                        (done, total, sofar) -> {});
                for (Evaluation.Row r : table) {
                    System.out.printf(Locale.ROOT, "llama.cpp %s: %-11s %-16s %.3f (%.1f ms/problem)%n", LlamaBackend.version(),
                            adapters ? "adapters" : "full files", r.method(), r.correct() / (double) r.problems(),
                            r.millisPerProblem());
                }
                System.out.printf(Locale.ROOT, "  %d models loaded, %.1f s%n", dev.blender.runtime.pipeline.Pools.of(blender).loadedModels(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
    }
}
