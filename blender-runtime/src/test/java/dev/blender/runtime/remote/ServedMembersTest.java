package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Strategy;
import dev.blender.runtime.server.BlenderServer;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The blender's own server as every remote role (issue 13): two {@code blender serve}s on loopback, each
 * serving one arith answerer, are the remote members of a blend whose judge and fuser are local, evaluated
 * through a recipe file against the same recipe all local; a third, serving the arith judge, judges as the
 * local LmJudge does. The log-probabilities go through the server's {@code logprobs} on {@code /v1/completions}.
 */
class ServedMembersTest {
    static final List<String> ROWS = List.of("member:answerer-a", "member:answerer-b", "token:loglinear",
            "token:linear");

    @TempDir
    Path dir;

    /** One model answering alone and greedily, as {@code blender serve -m model} with these settings serves it. */
    static Blender alone(String model, int contextSize, int maxTokens) {
        return Blender.builder().generator(ArithBlenders.arith(model)).strategy(Strategy.SINGLE).contextSize(contextSize)
                .maxTokens(maxTokens).answerSampler(SamplerOptions.greedy())
                .modelOptions(ModelOptions.defaults().withThreads(1)).build();
    }

    /** A served model: its blender and server, closed together. */
    record Served(Blender blender, BlenderServer server) implements AutoCloseable {
        static Served start(String model, int contextSize, int maxTokens) throws InterruptedException {
            Blender b = alone(model, contextSize, maxTokens);
            BlenderServer s = BlenderServer.builder(b).port(0).build().start();
            if (!s.awaitReady(Duration.ofMinutes(2))) {
                s.close();
                b.close();
                throw new AssertionError("not ready: " + s.loadProblem());
            }
            return new Served(b, s);
        }

        String url() {
            return server.baseUrl();
        }

        @Override
        public void close() {
            server.close();
            blender.close();
        }
    }

    Path recipe(Served a, Served b) throws IOException {
        return RemoteBlendEvalTest.arithRecipe(dir.resolve("served-arith.json"), ROWS, models -> {
            for (Served s : List.of(a, b)) {
                String file = s.blender().config().generators().get(0).getFileName().toString();
                models.addObject().put("url", s.url()).put("model", file).put("name", file.replace(".gguf", ""))
                        .put("api", "completions").put("retries", 0).put("timeoutSeconds", 30);
            }
        });
    }

    @Test
    void twoServedAnswerersMixPerTokenAsTheLocalOnes() throws Exception {
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 100);
        List<Composition> rows = ROWS.stream().map(Composition::named).toList();
        RemoteBlendEvalTest.Run local;
        try (Blender blender = Recipe.builtIn("arith", ArithBlenders.arith("judge").getParent()).config().build()) {
            local = RemoteBlendEvalTest.evaluate(blender, rows, problems);
        }
        RemoteBlendEvalTest.Run remote;
        try (Served a = Served.start("answerer-a", 64, 8); Served b = Served.start("answerer-b", 64, 8)) {
            Recipe r = Recipe.load(recipe(a, b), null);
            try (Blender blender = r.config().build()) {
                assertEquals(ROWS, r.compositionsFor(blender.config()).stream().map(Composition::name).toList());
                remote = RemoteBlendEvalTest.evaluate(blender, r.compositionsFor(blender.config()), problems);
            }
            assertEquals(0, a.server().stats().failed() + b.server().stats().failed());
        }
        double meanMissing = RemoteBlendEvalTest.report(", answerers behind two blender servers", local, remote,
                ROWS, problems.size());

        for (String member : List.of("member:answerer-a", "member:answerer-b")) {
            assertEquals(local.answers().get(member), remote.answers().get(member), member + ": greedy, the same model");
        }
        for (String mix : List.of("token:loglinear", "token:linear")) {
            assertEquals(local.row(mix).accuracy().value(), remote.row(mix).accuracy().value(), 0.02, mix);
        }
        assertTrue(remote.missing().size() == problems.size(), "every mixed answer noted its missing mass");
        assertTrue(meanMissing >= 0 && meanMissing < 0.01, "mean missing mass " + meanMissing);
    }

    @Test
    void aServedJudgeScoresAsTheLocalOne() throws Exception {
        double[] local;
        try (LlamaModel m = LlamaModel.load(ArithBlenders.arith("judge"), ModelOptions.defaults().withThreads(1));
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64 * 16).withMaxSequences(16)
                     .withThreads(1))) {
            local = new LmJudge(ctx, JudgeTemplate.arith()).compare(RemoteRolesTest.Q, RemoteRolesTest.CANDIDATES,
                    RemoteRolesTest.allPairs(4));
        }
        try (Served served = Served.start("judge", 128, 16); HttpClient http = OpenAiClient.newHttpClient()) {
            RemoteEndpoint endpoint = RemoteEndpoint.of(served.url(), "judge.gguf").withApi(RemoteEndpoint.Api.COMPLETIONS)
                    .withRetries(0).withTimeout(Duration.ofSeconds(30));
            RemoteJudge judge = new RemoteJudge(new OpenAiClient(endpoint, null, http), JudgeTemplate.arith(), () -> false);
            double[] remote = judge.compare(RemoteRolesTest.Q, RemoteRolesTest.CANDIDATES, RemoteRolesTest.allPairs(4));
            double worst = 0;
            for (int i = 0; i < local.length; i++) {
                worst = Math.max(worst, Math.abs(local[i] - remote[i]));
            }
            System.out.printf("arith judge behind a blender server, %d ordered pairs of %s on %s: largest difference"
                    + " from the local LmJudge's score %.2e (%d requests)%n", local.length, RemoteRolesTest.CANDIDATES,
                    RemoteRolesTest.Q, worst, judge.requests());
            for (int i = 0; i < local.length; i++) {
                // LmJudge decodes the pairs batched over a shared prefix, the server each alone: float noise
                assertEquals(local[i], remote[i], 1e-2, "pair " + RemoteRolesTest.allPairs(4).get(i));
            }
            assertEquals(0, judge.textVerdicts(), "every verdict read from the server's log-probabilities");
            assertTrue(java.util.Arrays.stream(local).anyMatch(s -> Math.abs(s) > 1), "the pairs are told apart");
        }
    }

    @Test
    void aServedFuserWritesWhatTheLocalOneWrites() throws Exception {
        try (Served served = Served.start("fuser", 64, 8); HttpClient http = OpenAiClient.newHttpClient();
             LlamaModel m = LlamaModel.load(ArithBlenders.arith("fuser"), ModelOptions.defaults().withThreads(1));
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
            RemoteEndpoint endpoint = RemoteEndpoint.of(served.url(), "fuser.gguf").withApi(RemoteEndpoint.Api.COMPLETIONS)
                    .withRetries(0).withTimeout(Duration.ofSeconds(30));
            RemoteFuser remote = new RemoteFuser(new OpenAiClient(endpoint, null, http), FuserTemplate.arith());
            GenFuser local = new GenFuser(ctx, FuserTemplate.arith());
            for (List<String> in : List.of(List.of("85+95=", "180", "280", "170"), List.of("39+99=", "148", "128", "138"),
                    List.of("77-67=", "10", "0", "8"), List.of("17+62=", "79"))) {
                List<String> candidates = in.subList(1, in.size());
                String want = local.fuse(in.get(0), candidates, 8).text();
                var got = remote.fuse(in.get(0), candidates, dev.blender.genfuser.FuseOptions.greedy(8),
                        dev.blender.nativebridge.generation.TokenListener.NONE).candidate();
                assertEquals(want, got.text(), in.toString());
            }
        }
    }
}
