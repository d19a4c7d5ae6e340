package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Strategy;
import dev.blender.runtime.remote.RemoteEndpoint;
import dev.blender.runtime.remote.RemoteException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two arith answerers served by in-process servers on loopback, used as the remote members of a blend
 * whose judge and fuser are local: they answer as the same models do locally, a server that goes away
 * leaves the blend answering with the other, and nothing of the remote members outlives the blender.
 */
class RemoteMembersTest {
    Blender servedA;
    Blender servedB;
    BlenderServer serverA;
    BlenderServer serverB;
    List<Problem> problems;

    /** One answerer behind a server, answering exactly what it is sent (the blend puts the prompt in its form). */
    static Blender served(String answerer) {
        return Blender.builder().generator(ArithBlenders.arith(answerer)).strategy(Strategy.SINGLE).contextSize(64)
                .maxTokens(8).answerSampler(SamplerOptions.greedy()).modelOptions(ModelOptions.defaults().withThreads(1))
                .build();
    }

    @BeforeEach
    void start() throws Exception {
        problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 6);
        servedA = served("answerer-a");
        servedB = served("answerer-b");
        serverA = ServerTestSupport.start(BlenderServer.builder(servedA));
        serverB = ServerTestSupport.start(BlenderServer.builder(servedB));
    }

    @AfterEach
    void stop() {
        for (AutoCloseable c : new AutoCloseable[] {serverA, serverB, servedA, servedB}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
    }

    /** The arith blend with a and b remote: judge and fuser local, settings as {@link ArithBlenders#full()}. */
    BlenderConfig.Builder remoteBlend(int retries) {
        return Blender.builder()
                .generator(RemoteEndpoint.of(serverA.baseUrl(), "answerer-a.gguf").withRetries(retries)
                        .withTimeout(Duration.ofSeconds(30)), "a")
                .generator(RemoteEndpoint.of(serverB.baseUrl(), "answerer-b.gguf").withRetries(retries)
                        .withTimeout(Duration.ofSeconds(30)), "b")
                .judge(ArithBlenders.arith("judge"), JudgeTemplate.arith())
                .fuser(ArithBlenders.arith("fuser"), FuserTemplate.arith())
                .contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:")
                .modelOptions(ModelOptions.defaults().withThreads(1));
    }

    static String answer(Blender b, String composition, String prompt) {
        return b.blend(BlendRequest.builder().prompt(prompt).composition(Composition.named(composition)).build()).answer();
    }

    @Test
    void greedyMemberAnswersEqualTheLocalOnes() {
        try (Blender remote = remoteBlend(2).build(); Blender local = ArithBlenders.full().build()) {
            int same = 0;
            for (Problem p : problems) {
                String ra = answer(remote, "member:a", p.question());
                String rb = answer(remote, "member:b", p.question());
                assertEquals(answer(local, "member:answerer-a", p.question()), ra, p.question());
                assertEquals(answer(local, "member:answerer-b", p.question()), rb, p.question());
                assertFalse(ra.isBlank(), p.question());
                same++;
            }
            assertEquals(problems.size(), same);
            BlendResult full = remote.blend(BlendRequest.builder().prompt(problems.get(0).question()).seed(3).build());
            assertEquals(Set.of("a", "b"), full.candidates().stream().map(BlendResult.Sampled::model)
                    .collect(Collectors.toSet()));
            assertEquals(8, full.candidates().size(), "4 candidates from each member");
            assertTrue(full.failures().isEmpty(), full.failures().toString());
            assertTrue(full.fused() != null && !full.answer().isBlank());
            assertTrue(full.usage().stages().get(0).generatedTokens() > 0, "the servers' usage counts");
            for (BlendResult.Sampled c : full.candidates()) {
                // the server's token ids are unknown here: none are made up; its usage counted the tokens above
                assertEquals(0, c.candidate().tokenCount(), c.model());
                assertEquals(0, c.candidate().logProbs().length, c.model());
            }
        }
    }

    @Test
    void aRemoteAnswerIsHeardOnceOnTheBlendsThreadAndACascadeEscalatesPastIt() {
        try (Blender remote = remoteBlend(0).build()) {
            Thread caller = Thread.currentThread();
            List<String> heard = new ArrayList<>();
            BlendResult r = remote.blend(BlendRequest.builder().prompt(problems.get(0).question())
                    .composition(Composition.named("member:a")).build(), new dev.blender.runtime.pipeline.BlendListener() {
                        @Override
                        public void onAnswer(String text) {
                            assertEquals(caller, Thread.currentThread());
                            heard.add(text);
                        }
                    });
            assertEquals(r.answer(), String.join("", heard).strip());
            assertEquals(1, heard.size());
            // its token probabilities are unknown, so a token-probability gate never stops at it
            BlendResult cascade = remote.blend(BlendRequest.builder().prompt(problems.get(0).question()).strategy(Strategy.CASCADE).build());
            assertTrue(cascade.escalated());
            assertEquals(1 + 8, cascade.candidates().size(), "the first answer, then 4 candidates from each member");
        }
    }

    @Test
    void aServerThatGoesAwayLeavesTheOtherAnswering() throws Exception {
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        int threadsBefore = before.size();
        Blender remote = remoteBlend(1).build();
        try {
            List<BlendResult> results = new ArrayList<>();
            Thread closer = null;
            for (int i = 0; i < problems.size(); i++) {
                if (i == 2) {
                    // closed while the blend runs: in flight, its request finishes or is refused
                    BlenderServer b = serverB;
                    closer = Thread.ofPlatform().start(b::close);
                }
                results.add(remote.blend(BlendRequest.builder().prompt(problems.get(i).question()).seed(i).build()));
                if (closer != null) {
                    closer.join();
                }
            }
            for (BlendResult r : results.subList(0, 2)) {
                assertTrue(r.failures().isEmpty(), r.failures().toString());
            }
            for (BlendResult r : results.subList(3, results.size())) {
                assertEquals(List.of("b"), r.failures().stream().map(BlendResult.MemberFailure::model).toList());
                assertTrue(r.failures().get(0).error().startsWith("cannot reach " + serverB.baseUrl()),
                        r.failures().get(0).error());
                assertEquals(Set.of("a"), r.candidates().stream().map(BlendResult.Sampled::model)
                        .collect(Collectors.toSet()));
                assertFalse(r.answer().isBlank());
            }
            // the server's and run --json's form of it
            String json = BlendResultJson.putDetails(ServerTestSupport.JSON.createObjectNode(), results.getLast(), false)
                    .toString();
            assertTrue(json.contains("\"failures\":[{\"model\":\"b\",\"error\":\"cannot reach"), json);

            serverA.close();
            RemoteException none = assertThrows(RemoteException.class,
                    () -> remote.blend(BlendRequest.of(problems.get(0).question())));
            assertTrue(none.getMessage().startsWith("every generator failed: a: cannot reach")
                    && none.getMessage().contains("; b: cannot reach"), none.getMessage());
        } finally {
            remote.close();
        }
        // the remote members' connections and threads end with the blender
        Thread.sleep(500);
        Set<Thread> after = Thread.getAllStackTraces().keySet();
        List<String> httpThreads = after.stream().filter(t -> !before.contains(t))
                .map(Thread::getName).filter(n -> n.startsWith("HttpClient")).toList();
        assertTrue(httpThreads.isEmpty(), "left running: " + httpThreads);
        assertTrue(after.size() <= threadsBefore + 4, threadsBefore + " threads before, " + after.size() + " after: "
                + after.stream().filter(t -> !before.contains(t)).map(Thread::getName).toList());
        assertEquals(0, serverA.connections());
        assertEquals(0, serverB.connections());
    }

    @Test
    void aBlendOverAServerKeepsNoConnectionOpenAfterClose() throws Exception {
        try (Blender remote = remoteBlend(0).build()) {
            assertFalse(answer(remote, "majority", problems.get(0).question()).isBlank());
            assertTrue(serverA.connections() > 0, "a keep-alive connection while the blender lives");
        }
        long until = System.nanoTime() + 2_000_000_000L;
        while ((serverA.connections() > 0 || serverB.connections() > 0) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertEquals(0, serverA.connections() + serverB.connections());
    }

    /**
     * What a generated token costs through a server on loopback against the same model in process, greedy:
     * answerer-a's short answers to the first problems (the cost is mostly per request), then stories260K's
     * 128-token stories (mostly per token). Asserted: the remote member gives the same answers and the same
     * count of generated tokens as the model in process, in every round, so the per-token figures divide like
     * by like. The timings are the machine's and only printed.
     */
    @Test
    void costPerGeneratedToken() throws Exception {
        List<Problem> many = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 30);
        try (Blender remote = remoteBlend(0).build(); Blender local = ArithBlenders.full().build()) {
            measure("arith answerer-a, 30 answers", remote, "member:a", local, "member:answerer-a", many);
        }
        Path stories = TestModels.stories();
        List<Problem> openings = List.of(new Problem("Once upon a time", ""), new Problem("The little dog", ""),
                new Problem("One day, Lily", ""), new Problem("Tom had a red ball", ""));
        try (Blender served = storiesBlender(Blender.builder().generator(stories));
             BlenderServer server = ServerTestSupport.start(BlenderServer.builder(served));
             Blender remote = storiesBlender(Blender.builder().generator(RemoteEndpoint.of(server.baseUrl(),
                     stories.getFileName().toString()).withRetries(0), "s"));
             Blender local = storiesBlender(Blender.builder().generator(stories))) {
            measure("stories260K, 4 stories of 128 tokens", remote, "member:s", local, "member:stories260K", openings);
        }
    }

    static Blender storiesBlender(BlenderConfig.Builder b) {
        return b.strategy(Strategy.SINGLE).contextSize(256).maxTokens(128).answerSampler(SamplerOptions.greedy())
                .modelOptions(ModelOptions.defaults().withThreads(1)).build();
    }

    /** One pass of a composition over the problems: its time, the tokens it generated and its answers. */
    record Pass(double ms, long tokens, List<String> answers) {}

    /** Medians of 5 rounds, remote and local alternating (after one round each to warm up). */
    static void measure(String what, Blender remote, String remoteRow, Blender local, String localRow,
                        List<Problem> problems) {
        time(remote, remoteRow, problems);
        time(local, localRow, problems);
        List<Pass> r = new ArrayList<>();
        List<Pass> l = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            r.add(time(remote, remoteRow, problems));
            l.add(time(local, localRow, problems));
            assertEquals(l.get(round).answers(), r.get(round).answers(), what + ", round " + round
                    + ": greedy, the remote member answers as the model in process");
            assertEquals(l.get(round).tokens(), r.get(round).tokens(), what + ", round " + round
                    + ": the server's usage counts the tokens generated in process");
        }
        assertTrue(r.get(0).tokens() >= problems.size(), what + ": at least a token an answer, " + r.get(0).tokens());
        double rMs = median(r), lMs = median(l);
        long rTokens = r.get(0).tokens(), lTokens = l.get(0).tokens();
        System.out.printf("%s (medians of 5): remote member on loopback %.3f ms/request, %.3f ms/token (%d tokens);"
                + " local %.3f ms/request, %.3f ms/token (%d tokens)%n", what, rMs / problems.size(), rMs / rTokens,
                rTokens, lMs / problems.size(), lMs / lTokens, lTokens);
    }

    static double median(List<Pass> rounds) {
        double[] ms = rounds.stream().mapToDouble(Pass::ms).sorted().toArray();
        return ms[ms.length / 2];
    }

    /** Total milliseconds, generated tokens and answers of a composition over the problems. */
    static Pass time(Blender b, String composition, List<Problem> problems) {
        double ms = 0;
        long tokens = 0;
        List<String> answers = new ArrayList<>();
        for (Problem p : problems) {
            long t0 = System.nanoTime();
            BlendResult r = b.blend(BlendRequest.builder().prompt(p.question()).composition(Composition.named(composition)).build());
            ms += (System.nanoTime() - t0) / 1e6;
            tokens += r.usage().generatedTokens();
            answers.add(r.answer());
        }
        return new Pass(ms, tokens, answers);
    }
}
