package dev.blender.runtime.server;

import static dev.blender.runtime.server.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.TopLogprobs;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.remote.RemoteCompletion;
import dev.blender.runtime.remote.RemoteEndpoint;
import dev.blender.runtime.remote.TokenLogprob;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Log-probabilities of one generator served alone: in OpenAI's two shapes, equal to what the same model
 * gives in process, read back by the remote members' parser, and refused (400, naming the field) where
 * the server cannot give them.
 */
class ServerLogprobsTest {
    static final String PROMPT = "Q: 85+95= A:";
    static Blender served;
    static BlenderServer server;
    static HttpClient http;
    /** answerer-a in process, greedy, with its top 5 per step. */
    static Candidate local;

    @BeforeAll
    static void start() throws Exception {
        served = RemoteMembersTest.served("answerer-a");
        server = ServerTestSupport.start(BlenderServer.builder(served));
        http = ServerTestSupport.client();
        try (LlamaModel m = LlamaModel.load(ArithBlenders.arith("answerer-a"), ModelOptions.defaults().withThreads(1));
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
            local = Generator.generate(ctx, GenerationRequest.of(m.vocab().tokenize(PROMPT)).withMaxTokens(8)
                    .withTopLogprobs(5)).get(0);
        }
    }

    @AfterAll
    static void stop() {
        server.close();
        served.close();
        http.close();
    }

    static String completion(String extra) {
        return "{\"model\": \"answerer-a.gguf\", \"prompt\": \"" + PROMPT + "\", \"temperature\": 0"
                + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }

    static String chat(String extra) {
        return "{\"model\": \"answerer-a.gguf\", \"messages\": [{\"role\": \"user\", \"content\": \"" + PROMPT
                + "\"}], \"temperature\": 0" + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }

    @Test
    void completionsAnswerInOpenAisLegacyShape() {
        ServerTestSupport.Reply r = post(http, server, "/completions", completion("\"logprobs\": 5"));
        assertEquals(200, r.status(), r.body());
        JsonNode choice = r.json().get("choices").get(0);
        assertEquals(" 181", choice.get("text").asText(), "a generator's completion continues the prompt as written");
        JsonNode lp = choice.get("logprobs");
        List<TopLogprobs> steps = local.topLogprobs();
        assertEquals(steps.size(), lp.get("tokens").size(), lp.toString());
        StringBuilder joined = new StringBuilder();
        for (int k = 0; k < steps.size(); k++) {
            TopLogprobs step = steps.get(k);
            assertEquals(step.chosen().text(), lp.get("tokens").get(k).asText());
            assertEquals(step.chosen().logprob(), lp.get("token_logprobs").get(k).floatValue(), 1e-6f);
            JsonNode top = lp.get("top_logprobs").get(k);
            Iterator<Map.Entry<String, JsonNode>> it = top.fields();
            for (TopLogprobs.Alternative a : step.top()) {
                if (!top.has(a.text())) {
                    continue; // two tokens that write the same text are one key
                }
                assertEquals(a.logprob(), top.get(a.text()).floatValue(), 1e-6f, a.toString());
            }
            assertEquals(step.top().get(0).text(), it.next().getKey(), "best first");
            assertTrue(top.size() <= 5 && top.size() >= 1);
            assertEquals(joined.length(), lp.get("text_offset").get(k).asInt());
            if (k < local.tokenCount()) {
                joined.append(lp.get("tokens").get(k).asText());
            }
        }
        assertEquals("</s>", lp.get("tokens").get(steps.size() - 1).asText(), "the end is the last token");
        assertEquals(choice.get("text").asText(), joined.toString());
        assertEquals("stop", choice.get("finish_reason").asText());

        // what a remote member of another blend reads from it
        RemoteCompletion read = RemoteCompletion.parse(r.json(), RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(" 181", read.text());
        assertEquals(firstStep(), read.top().stream().map(ServerLogprobsTest::entry).toList());
    }

    @Test
    void chatAnswersWithContentEntriesAndBytes() {
        ServerTestSupport.Reply r = post(http, server, "/chat/completions", chat("\"logprobs\": true, \"top_logprobs\": 3"));
        assertEquals(200, r.status(), r.body());
        JsonNode choice = r.json().get("choices").get(0);
        assertEquals("181", choice.get("message").get("content").asText(), "a chat answer is stripped as before");
        JsonNode content = choice.get("logprobs").get("content");
        assertEquals(local.topLogprobs().size(), content.size());
        for (int k = 0; k < content.size(); k++) {
            TopLogprobs step = local.topLogprobs().get(k);
            JsonNode e = content.get(k);
            assertEquals(step.chosen().text(), e.get("token").asText());
            assertEquals(step.chosen().logprob(), e.get("logprob").floatValue(), 1e-6f);
            assertArrayEquals(step.chosen().bytes(), bytes(e.get("bytes")));
            assertEquals(3, e.get("top_logprobs").size());
            for (int i = 0; i < 3; i++) {
                JsonNode t = e.get("top_logprobs").get(i);
                assertEquals(step.top().get(i).text(), t.get("token").asText());
                assertEquals(step.top().get(i).logprob(), t.get("logprob").floatValue(), 1e-6f);
                assertArrayEquals(step.top().get(i).bytes(), bytes(t.get("bytes")));
            }
        }
        RemoteCompletion read = RemoteCompletion.parse(r.json(), RemoteEndpoint.Api.CHAT);
        assertEquals(firstStep().subList(0, 3), read.top().stream().map(ServerLogprobsTest::entry).toList());

        // logprobs without top_logprobs: the chosen tokens alone
        JsonNode bare = post(http, server, "/chat/completions", chat("\"logprobs\": true")).json().get("choices").get(0)
                .get("logprobs").get("content");
        assertEquals(content.size(), bare.size());
        assertEquals(0, bare.get(0).get("top_logprobs").size());
        assertEquals(content.get(0).get("logprob"), bare.get(0).get("logprob"));
    }

    @Test
    void aRequestThatAsksForNoneGetsNull() {
        for (String body : List.of(completion(""), completion("\"logprobs\": 0"), completion("\"logprobs\": false"),
                chat("\"logprobs\": false"), chat("\"logprobs\": 0"))) {
            ServerTestSupport.Reply r = post(http, server, body.contains("messages") ? "/chat/completions"
                    : "/completions", body);
            assertEquals(200, r.status(), r.body());
            assertTrue(r.json().get("choices").get(0).get("logprobs").isNull(), body + " -> " + r.body());
        }
    }

    @Test
    void whereTheyCannotBeGivenTheFieldIsNamed() {
        record Bad(String path, String body, String param) {}
        List<Bad> cases = List.of(
                new Bad("/completions", completion("\"logprobs\": 5").replace("answerer-a.gguf", "blender"), "logprobs"),
                new Bad("/completions", completion("\"logprobs\": 21"), "logprobs"),
                new Bad("/completions", completion("\"logprobs\": -1"), "logprobs"),
                new Bad("/completions", completion("\"logprobs\": true"), "logprobs"),
                new Bad("/completions", completion("\"logprobs\": 5, \"stream\": true"), "logprobs"),
                new Bad("/completions", completion("\"logprobs\": 5, \"blender\": {\"strategy\": \"self-blend\"}"),
                        "logprobs"),
                new Bad("/completions", completion("\"top_logprobs\": 5"), "top_logprobs"),
                new Bad("/chat/completions", chat("\"top_logprobs\": 5"), "top_logprobs"),
                new Bad("/chat/completions", chat("\"logprobs\": false, \"top_logprobs\": 5"), "top_logprobs"),
                new Bad("/chat/completions", chat("\"logprobs\": true, \"top_logprobs\": 21"), "top_logprobs"),
                new Bad("/chat/completions", chat("\"logprobs\": \"yes\""), "logprobs"),
                new Bad("/chat/completions", chat("\"logprobs\": true").replace("answerer-a.gguf", "blender"),
                        "logprobs"));
        for (Bad c : cases) {
            ServerTestSupport.Reply r = post(http, server, c.path(), c.body());
            String what = c.path() + " " + c.body() + " -> " + r.body();
            assertEquals(400, r.status(), what);
            assertEquals(c.param(), r.json().get("error").get("param").asText(), what);
            assertFalse(r.json().get("error").get("message").asText().isBlank(), what);
        }
    }

    @Test
    void aStreamedCompletionOfOneGeneratorIsItsTextAsWritten() {
        ServerTestSupport.Reply r = post(http, server, "/completions", completion("\"stream\": true"));
        assertEquals(200, r.status(), r.body());
        StringBuilder text = new StringBuilder();
        for (String e : r.events()) {
            if (!e.equals("[DONE]")) {
                text.append(ServerTestSupport.readJson(e).get("choices").get(0).get("text").asText());
            }
        }
        assertEquals(" 181", text.toString());
    }

    /** The first step's alternatives, each as "text logprob", best first. */
    static List<String> firstStep() {
        List<String> out = new ArrayList<>();
        for (TopLogprobs.Alternative a : local.topLogprobs().get(0).top()) {
            out.add(a.text() + " " + a.logprob());
        }
        return out;
    }

    static String entry(TokenLogprob t) {
        return new String(t.bytes(), StandardCharsets.UTF_8) + " " + (float) t.logprob();
    }

    static byte[] bytes(JsonNode array) {
        byte[] out = new byte[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) array.get(i).asInt();
        }
        return out;
    }
}
