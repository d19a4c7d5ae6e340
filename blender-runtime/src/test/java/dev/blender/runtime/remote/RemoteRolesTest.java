package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Remote judges, fusers and per-token mixes over the arith family, each model behind a
 * {@link CompletionServer} on loopback, against the same models in process: the judge's scores, the fuser's
 * answers and the mix's answers (the README's exact expectations) must come out the same.
 */
class RemoteRolesTest {
    static CompletionServer judgeLlama;
    static CompletionServer judgeLegacy;
    static CompletionServer judgeBare;
    static CompletionServer fuser;
    static CompletionServer a;
    static CompletionServer b;
    static HttpClient http;

    @BeforeAll
    static void start() {
        judgeLlama = CompletionServer.start(ArithBlenders.arith("judge"), CompletionServer.Style.LLAMA_CPP);
        judgeLegacy = CompletionServer.start(ArithBlenders.arith("judge"), CompletionServer.Style.OPENAI_LEGACY);
        judgeBare = CompletionServer.start(ArithBlenders.arith("judge"), CompletionServer.Style.NO_LOGPROBS);
        fuser = CompletionServer.start(ArithBlenders.arith("fuser"), CompletionServer.Style.LLAMA_CPP);
        a = CompletionServer.start(ArithBlenders.arith("answerer-a"), CompletionServer.Style.LLAMA_CPP);
        b = CompletionServer.start(ArithBlenders.arith("answerer-b"), CompletionServer.Style.OPENAI_LEGACY);
        http = OpenAiClient.newHttpClient();
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {judgeLlama, judgeLegacy, judgeBare, fuser, a, b, http}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
    }

    static RemoteEndpoint completions(CompletionServer s) {
        return RemoteEndpoint.of(s.baseUrl(), null).withApi(RemoteEndpoint.Api.COMPLETIONS).withRetries(0)
                .withTimeout(Duration.ofSeconds(30));
    }

    static OpenAiClient client(CompletionServer s) {
        return new OpenAiClient(completions(s), null, http);
    }

    static final String Q = "85+95=";
    static final List<String> CANDIDATES = List.of("180", "171", "181", "280");

    static List<OrderedPair> allPairs(int n) {
        List<OrderedPair> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i != j) {
                    out.add(new OrderedPair(i, j));
                }
            }
        }
        return out;
    }

    @Test
    void aRemoteJudgeScoresAsTheLocalOneInBothResponseShapes() {
        double[] local;
        try (LlamaModel m = LlamaModel.load(ArithBlenders.arith("judge"), ModelOptions.defaults().withThreads(1));
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64 * 16).withMaxSequences(16)
                     .withThreads(1))) {
            local = new LmJudge(ctx, JudgeTemplate.arith()).compare(Q, CANDIDATES, allPairs(4));
        }
        for (CompletionServer s : List.of(judgeLlama, judgeLegacy)) {
            RemoteJudge judge = new RemoteJudge(client(s), JudgeTemplate.arith(), () -> false);
            double[] remote = judge.compare(Q, CANDIDATES, allPairs(4));
            for (int i = 0; i < local.length; i++) {
                // LmJudge decodes the pairs batched over a shared prefix, the server each alone: float noise
                assertEquals(local[i], remote[i], 1e-2, s.baseUrl() + " pair " + allPairs(4).get(i));
            }
            assertEquals(0, judge.textVerdicts());
            assertTrue(judge.tokensDecoded() > 0, "the server's usage is the judge's cost");
        }
    }

    @Test
    void aJudgeWithoutLogprobsFallsBackToTheVerdictsText() {
        RemoteJudge judge = new RemoteJudge(client(judgeBare), JudgeTemplate.arith(), () -> false);
        // README: "Q: 85+95= X: 180 Y: 171 Result:" -> " 180 Better: X"; "Q: 79+14= X: 83 Y: 93" -> Y
        double[] s = judge.compare("85+95=", List.of("180", "171"), List.of(new OrderedPair(0, 1)));
        assertEquals(RemoteJudge.TEXT_VERDICT, s[0]);
        s = judge.compare("79+14=", List.of("83", "93"), List.of(new OrderedPair(0, 1)));
        assertEquals(-RemoteJudge.TEXT_VERDICT, s[0]);
        assertEquals(2, judge.textVerdicts());
    }

    /** README: per-token combination of a and b, greedy, where every step's margin makes them exact. */
    static final List<String[]> MIXED = List.of(new String[] {"17+62=", "79", "79"}, new String[] {"25+90=", "116", "115"},
            new String[] {"55+46=", "101", "101"}, new String[] {"26+12=", "38", "38"},
            new String[] {"57+78=", "135", "135"}, new String[] {"89-59=", "30", "30"},
            new String[] {"75+87=", "162", "163"}, new String[] {"67+22=", "89", "89"});

    BlenderConfig.Builder arith() {
        return Blender.builder().contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:")
                .modelOptions(ModelOptions.defaults().withThreads(1));
    }

    @Test
    void remoteMembersMixPerTokenAsTheLocalOnes() {
        Composition logLinear = CompositionJson.read("""
                {"name": "ll", "stages": [{"stage": "mix", "method": "log-linear"}]}""", "ll");
        Composition linear = CompositionJson.read("""
                {"name": "lin", "stages": [{"stage": "mix", "method": "linear"}]}""", "lin");
        int cachedBefore = a.cacheHits();
        try (Blender remote = arith().generator(completions(a), "a").generator(completions(b), "b").build();
             Blender half = arith().generator(ArithBlenders.arith("answerer-a")).generator(completions(b), "b").build()) {
            for (String[] row : MIXED) {
                for (Blender blender : List.of(remote, half)) {
                    BlendResult ll = blender.blend(BlendRequest.builder().prompt(row[0]).composition(logLinear).build());
                    BlendResult lin = blender.blend(BlendRequest.builder().prompt(row[0]).composition(linear).build());
                    assertEquals(row[1], ll.answer(), "log-linear " + row[0]);
                    assertEquals(row[2], lin.answer(), "linear " + row[0]);
                    BlendResult.Note missing = ll.notes().stream().filter(n -> n.kind().equals("missing-mass"))
                            .findFirst().orElseThrow();
                    assertTrue(missing.value() >= 0 && missing.value() < 0.05, missing.toString());
                    assertTrue(ll.failures().isEmpty(), ll.failures().toString());
                }
            }
        }
        // the llama.cpp-style server showed its timings, so it was sent cache_prompt and reused its prefix
        assertTrue(a.cachePromptSent() > 0 && a.cacheHits() > cachedBefore, a.cachePromptSent() + " " + a.cacheHits());
        assertEquals(0, b.cachePromptSent(), "a server that is not llama.cpp's is sent no cache_prompt");
    }

    @Test
    void aMemberWithoutLogprobsLeavesTheMixAndIsReported() {
        try (Blender blender = arith().generator(ArithBlenders.arith("answerer-a"))
                .generator(completions(judgeBare), "bare").build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("17+62=").composition(Composition.named("token-combine")).build());
            assertEquals(List.of("bare"), r.failures().stream().map(BlendResult.MemberFailure::model).toList());
            assertTrue(r.failures().get(0).error().contains("no log-probabilities"), r.failures().toString());
            assertEquals("80", r.answer(), "answerer-a alone");
        }
    }

    @Test
    void aBlendWithARemoteJudgeAndFuserNotesTextVerdicts() {
        try (Blender blender = arith().generator(completions(a), "a").generator(completions(b), "b")
                .judge(completions(judgeBare), JudgeTemplate.arith(), "judge")
                .fuser(completions(fuser), FuserTemplate.arith(), "fuser").build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("85+95=").seed(3)
                    .composition(Composition.named("fuse:top3")).build());
            assertEquals(8, r.candidates().size());
            assertTrue(r.fused() != null && !r.answer().isBlank(), r.toString());
            BlendResult.Note text = r.notes().stream().filter(n -> n.kind().equals("text-verdicts")).findFirst()
                    .orElseThrow(() -> new AssertionError(r.notes().toString()));
            assertTrue(text.value() > 0 && text.message().contains("judge"), text.toString());
            assertTrue(r.usage().stages().stream().anyMatch(s -> s.stage().equals("fusion") && s.totalTokens() > 0));
            String json = dev.blender.runtime.server.BlendResultJson.putDetails(
                    new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode(), r, false).toString();
            assertTrue(json.contains("\"notes\":[{\"kind\":\"text-verdicts\""), json);
        }
    }

    @Test
    void solvingNeedsALocalJudgeAndSaysSo() {
        try (Blender blender = arith().generator(ArithBlenders.arith("answerer-a"))
                .judge(completions(judgeLlama), JudgeTemplate.arith(), "judge").build()) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> blender.blend(BlendRequest.builder().prompt("85+95=").composition(Composition.named("cascade:solve")).build()));
            assertTrue(e.getMessage().contains("solve needs a local judge") && e.getMessage().contains("judge"),
                    e.getMessage());
        }
    }

    @Test
    void theLangChain4jScoringModelScoresWithARemoteJudgeAsWithTheLocalOne() {
        List<dev.langchain4j.data.segment.TextSegment> segments = CANDIDATES.stream()
                .map(dev.langchain4j.data.segment.TextSegment::from).toList();
        List<Double> local;
        try (Blender blender = arith().generator(ArithBlenders.arith("answerer-a"))
                .judge(ArithBlenders.arith("judge"), JudgeTemplate.arith()).build()) {
            local = dev.blender.runtime.langchain4j.BlenderScoringModel.builder().blender(blender).build()
                    .scoreAll(segments, Q).content();
        }
        try (Blender blender = arith().generator(ArithBlenders.arith("answerer-a"))
                .judge(completions(judgeLlama), JudgeTemplate.arith(), "judge").build()) {
            var response = dev.blender.runtime.langchain4j.BlenderScoringModel.builder().blender(blender).build()
                    .scoreAll(segments, Q);
            for (int i = 0; i < local.size(); i++) {
                assertEquals(local.get(i), response.content().get(i), 1e-2, CANDIDATES.get(i));
            }
            assertTrue(response.tokenUsage().inputTokenCount() > 0, "the server's usage is the judge's cost");
        }
    }

    /** Every stage remote: samples, a per-token mix, the judge's verification and the fusion. */
    @Test
    void theReadmesAllRemoteBlendRuns() {
        try (Blender blender = arith().generator(completions(a), "a").generator(completions(b), "b")
                .judge(completions(judgeLlama), JudgeTemplate.arith(), "judge")
                .fuser(completions(fuser), FuserTemplate.arith(), "fuser")
                .composition(Composition.named("fuse:mix3-verified")).build()) {
            int right = 0;
            for (String[] row : MIXED) {
                BlendResult r = blender.blend(BlendRequest.builder().prompt(row[0]).seed(1).build());
                assertTrue(r.failures().isEmpty(), r.failures().toString());
                assertEquals(List.of("missing-mass"), r.notes().stream().map(BlendResult.Note::kind).toList(),
                        "every verdict read from log-probabilities");
                right += r.answer().equals(String.valueOf(eval(row[0]))) ? 1 : 0;
            }
            // the local blend answers 0.90 of all dev problems with this composition; these are mostly right
            assertTrue(right >= 5, right + " of " + MIXED.size());
        }
    }

    static int eval(String q) {
        String e = q.substring(0, q.length() - 1);
        int op = e.indexOf('+') > 0 ? e.indexOf('+') : e.indexOf('-');
        int x = Integer.parseInt(e.substring(0, op));
        int y = Integer.parseInt(e.substring(op + 1));
        return e.charAt(op) == '+' ? x + y : x - y;
    }

    @Test
    void configurationsThatCannotWorkAreRefusedNamingTheEntry() {
        RemoteEndpoint chat = RemoteEndpoint.of(a.baseUrl(), "answerer-a");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> arith()
                .generator(chat, "a").generator(completions(b), "b").strategy(dev.blender.runtime.pipeline.Strategy.TOKEN_COMBINE)
                .buildConfig());
        assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("\"api\": \"completions\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(ArithBlenders.arith("answerer-a"))
                .judge(chat, JudgeTemplate.arith(), "j").buildConfig());
        assertTrue(e.getMessage().startsWith("remote judge 'j'") && e.getMessage().contains("completions"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(completions(a), "a")
                .generator(completions(b), "b").combine(dev.blender.runtime.combine.CombineOptions.negativeEvidence(2, 1f, 0.1f))
                .strategy(dev.blender.runtime.pipeline.Strategy.TOKEN_COMBINE).buildConfig());
        assertTrue(e.getMessage().contains(CombineMethod.NEGATIVE_EVIDENCE.toString()), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> arith().generator(completions(a), "a")
                .judge(completions(judgeLlama), JudgeTemplate.arith(), "a").buildConfig());
        assertTrue(e.getMessage().contains("named 'a' like a generator"), e.getMessage());
    }
}
