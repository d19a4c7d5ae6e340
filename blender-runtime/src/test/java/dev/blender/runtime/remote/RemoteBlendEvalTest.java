package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The arith blend with answerer-a and answerer-b behind two llama.cpp-style servers on loopback, the judge
 * and fuser local, evaluated through a recipe file with remote entries, against the same recipe with every
 * model local, on the first 100 dev problems: the greedy member rows must answer identically, the per-token
 * log-linear mix (over the union of the servers' top-20 lists) within 5 points of the exact local mix, and
 * the rows built on sampled candidates (the servers draw their own samples) within 10. Prints the table,
 * the mass outside the top lists and the time per mixed token.
 */
class RemoteBlendEvalTest {
    static final List<String> ROWS = List.of("member:answerer-a", "member:answerer-b", "token:loglinear", "token:linear",
            "rank:maxlogits", "fuse:top3");

    @TempDir
    Path dir;

    /** The built-in arith recipe's settings, with the generators remote and only these rows. */
    Path recipe(CompletionServer a, CompletionServer b) throws IOException {
        return arithRecipe(dir.resolve("remote-arith.json"), ROWS, models -> {
            models.addObject().put("url", a.baseUrl()).put("name", "answerer-a").put("api", "completions")
                    .put("retries", 0);
            models.addObject().put("url", b.baseUrl()).put("name", "answerer-b").put("api", "completions")
                    .put("retries", 0);
        });
    }

    /**
     * Writes to {@code file} the built-in arith recipe's settings with the generators {@code generators}
     * adds, the local judge and fuser, one thread, and only {@code rows}.
     */
    static Path arithRecipe(Path file, List<String> rows, java.util.function.Consumer<ArrayNode> generators)
            throws IOException {
        ObjectNode root = (ObjectNode) new ObjectMapper()
                .readTree(Recipe.class.getResourceAsStream("arith.recipe.json"));
        ArrayNode models = root.putArray("models");
        generators.accept(models);
        models.addObject().put("path", ArithBlenders.arith("judge").toString()).put("role", "judge")
                .put("template", "arith");
        models.addObject().put("path", ArithBlenders.arith("fuser").toString()).put("role", "fuser")
                .put("template", "arith");
        ArrayNode compositions = ((ObjectNode) root.get("eval")).putArray("compositions");
        rows.forEach(compositions::add);
        root.put("threads", 1);
        Files.writeString(file, root.toString());
        return file;
    }

    /** {@code mixTokens}: the tokens token:loglinear wrote in all (the mixing stage counts them per member). */
    record Run(List<Evaluation.Row> rows, Map<String, List<String>> answers, List<Double> missing, long[] mixTokens) {
        Evaluation.Row row(String name) {
            return rows.stream().filter(r -> r.method().equals(name)).findFirst().orElseThrow();
        }
    }

    /**
     * Prints each row's local and remote accuracy and time, and how the remote log-linear mix compares with
     * the exact local one; returns the mean probability mass outside the servers' lists.
     */
    static double report(String where, Run local, Run remote, List<String> rows, int problems) {
        System.out.printf("arith, first %d dev problems%s: row, local accuracy, remote accuracy, ms/problem local,"
                + " remote%n", problems, where);
        for (String name : rows) {
            Evaluation.Row l = local.row(name);
            Evaluation.Row x = remote.row(name);
            System.out.printf("  %-18s %.3f  %.3f  %7.2f  %7.2f%n", name, l.accuracy().value(), x.accuracy().value(),
                    l.millisPerProblem(), x.millisPerProblem());
        }
        double meanMissing = remote.missing().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double maxMissing = remote.missing().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        System.out.printf("token:loglinear: mean probability mass outside the servers' top-20 %.2e (the largest"
                + " mean of one answer %.2e); answers identical to the local mix %d of %d; about %.2f ms per mixed"
                + " token remote against %.2f local (%d tokens)%n", meanMissing, maxMissing,
                same(local.answers().get("token:loglinear"), remote.answers().get("token:loglinear")), problems,
                remote.row("token:loglinear").millis() / remote.mixTokens()[0],
                local.row("token:loglinear").millis() / local.mixTokens()[0], remote.mixTokens()[0]);
        return meanMissing;
    }

    static Run evaluate(Blender blender, List<Composition> rows, List<Problem> problems) {
        Map<String, List<String>> answers = new LinkedHashMap<>();
        List<Double> missing = new ArrayList<>();
        long[] mixTokens = {0};
        List<Evaluation.Row> table = new Evaluation(blender, rows, AnswerChecker.EXACT, null).run(problems, 1,
                new Evaluation.Listener() {
                    @Override
                    public void problemDone(int done, int total, List<Evaluation.Row> sofar) {}

                    @Override
                    public void answered(int index, Problem p, String method, BlendResult r, boolean right) {
                        answers.computeIfAbsent(method, k -> new ArrayList<>()).add(r.answer());
                        if (method.equals("token:loglinear")) {
                            r.usage().stages().stream().filter(u -> u.stage().equals("mixing"))
                                    .forEach(u -> mixTokens[0] += u.generatedTokens() / 2);
                            r.notes().stream().filter(n -> n.kind().equals("missing-mass"))
                                    .forEach(n -> missing.add(n.value()));
                        }
                    }
                });
        return new Run(table, answers, missing, mixTokens);
    }

    @Test
    void aRecipeWithRemoteMembersEvaluatesAsTheLocalOne() throws IOException {
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 100);
        List<Composition> rows = ROWS.stream().map(Composition::named).toList();
        Run local;
        try (Blender blender = Recipe.builtIn("arith", ArithBlenders.arith("judge").getParent()).config().build()) {
            local = evaluate(blender, rows, problems);
        }
        Run remote;
        try (CompletionServer a = CompletionServer.start(ArithBlenders.arith("answerer-a"), CompletionServer.Style.LLAMA_CPP);
             CompletionServer b = CompletionServer.start(ArithBlenders.arith("answerer-b"), CompletionServer.Style.LLAMA_CPP)) {
            Recipe r = Recipe.load(recipe(a, b), null);
            try (Blender blender = r.config().build()) {
                assertEquals(ROWS, r.compositionsFor(blender.config()).stream().map(Composition::name).toList());
                remote = evaluate(blender, r.compositionsFor(blender.config()), problems);
            }
            assertTrue(a.cacheHits() > 0, "the mix reused the server's prompt cache");
        }
        double meanMissing = report("", local, remote, ROWS, problems.size());

        for (String member : List.of("member:answerer-a", "member:answerer-b")) {
            assertEquals(local.answers().get(member), remote.answers().get(member), member + ": greedy, the same model");
        }
        assertEquals(local.row("token:loglinear").accuracy().value(), remote.row("token:loglinear").accuracy().value(),
                0.05);
        assertEquals(local.row("token:linear").accuracy().value(), remote.row("token:linear").accuracy().value(), 0.05);
        for (String sampled : List.of("rank:maxlogits", "fuse:top3")) {
            assertEquals(local.row(sampled).accuracy().value(), remote.row(sampled).accuracy().value(), 0.10, sampled);
        }
        assertTrue(meanMissing >= 0 && meanMissing < 0.01, "mean missing mass " + meanMissing);
    }

    static int same(List<String> x, List<String> y) {
        int n = 0;
        for (int i = 0; i < x.size(); i++) {
            n += x.get(i).equals(y.get(i)) ? 1 : 0;
        }
        return n;
    }
}
