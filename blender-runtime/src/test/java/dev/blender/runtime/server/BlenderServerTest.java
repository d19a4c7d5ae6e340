package dev.blender.runtime.server;

import static dev.blender.runtime.server.ServerTestSupport.chat;
import static dev.blender.runtime.server.ServerTestSupport.get;
import static dev.blender.runtime.server.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import dev.blender.runtime.server.ServerTestSupport.Reply;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenAI API over the arith blend: every endpoint, the stream's format and every error. */
class BlenderServerTest {
    static ServerTestSupport.ArithServer arith;
    static Blender blender;
    static BlenderServer server;
    static HttpClient http;

    @BeforeAll
    static void start() throws Exception {
        arith = ServerTestSupport.ArithServer.start();
        blender = arith.blender();
        server = arith.server();
        http = ServerTestSupport.client();
    }

    @AfterAll
    static void stop() {
        if (http != null) {
            http.close();
        }
        if (arith != null) {
            arith.close();
        }
    }

    @Test
    void aChatCompletionIsTheBlendsAnswerWithEveryStagesUsage() {
        Reply r = post(http, server, "/chat/completions", chat("37+48=", "\"seed\": 3"));
        assertEquals(200, r.status(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElseThrow());
        JsonNode j = r.json();
        BlendResult local = blender.blend(BlendRequest.builder().prompt("37+48=").seed(3).build());
        assertTrue(j.get("id").asText().startsWith("chatcmpl-"), j.toString());
        assertEquals("chat.completion", j.get("object").asText());
        assertEquals("blender", j.get("model").asText());
        JsonNode choice = j.get("choices").get(0);
        assertEquals(0, choice.get("index").asInt());
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertEquals(local.answer(), choice.get("message").get("content").asText());
        assertEquals("stop", choice.get("finish_reason").asText());
        JsonNode usage = j.get("usage");
        JsonNode stages = usage.get("blender");
        long prompt = 0;
        long completion = 0;
        for (String stage : List.of("sampling", "ranking", "fusion")) {
            assertTrue(stages.has(stage), stage + " in " + usage);
            prompt += stages.get(stage).get("prompt_tokens").asLong();
            completion += stages.get(stage).get("completion_tokens").asLong();
        }
        assertEquals(prompt, usage.get("prompt_tokens").asLong());
        assertEquals(completion, usage.get("completion_tokens").asLong());
        assertEquals(prompt + completion, usage.get("total_tokens").asLong());
        // the same candidates and fused answer; the judge's rationales count as generated too, but the local
        // request finds its pairs in the pair cache the served one filled, so ranking is compared apart
        long rationales = stages.get("ranking").get("completion_tokens").asLong();
        long localRationales = local.usage().stages().stream().filter(st -> st.stage().equals("ranking"))
                .mapToLong(BlendResult.StageUsage::generatedTokens).sum();
        assertEquals(local.usage().generatedTokens() - localRationales, completion - rationales,
                "every candidate and the fused answer");
        assertTrue(rationales > 0, "the judge's rationales are generated tokens");
        JsonNode ext = j.get("blender");
        assertEquals("full-blend", ext.get("strategy").asText());
        assertEquals(3, ext.get("seed").asLong());
        assertTrue(ext.get("timings").get("total_ms").asDouble() > 0);
        assertFalse(ext.has("candidates"), "candidates only when asked for");
    }

    @Test
    void aStreamIsDataOnlyEventsWithTheRoleFirstAndTheFinishReasonLast() {
        String body = chat("37+48=", "\"seed\": 3, \"stream\": true, \"stream_options\": {\"include_usage\": true}");
        Reply r = post(http, server, "/chat/completions", body);
        assertEquals(200, r.status(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
        assertFalse(r.body().contains("event:"), "no named events: " + r.body());
        List<String> events = r.events();
        assertEquals("[DONE]", events.getLast());
        List<JsonNode> chunks = events.subList(0, events.size() - 1).stream().map(ServerTestSupport::readJson).toList();
        String id = chunks.get(0).get("id").asText();
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < chunks.size(); i++) {
            JsonNode c = chunks.get(i);
            assertEquals("chat.completion.chunk", c.get("object").asText());
            assertEquals(id, c.get("id").asText(), "one id for the whole stream");
            if (i == chunks.size() - 1) {
                assertEquals(0, c.get("choices").size(), "the usage chunk has no choices");
                assertTrue(c.get("usage").get("total_tokens").asLong() > 0);
                continue;
            }
            JsonNode choice = c.get("choices").get(0);
            JsonNode delta = choice.get("delta");
            assertEquals(i == 0, delta.has("role"), "only the first delta has the role: " + c);
            if (i == chunks.size() - 2) {
                assertEquals("stop", choice.get("finish_reason").asText(), c.toString());
                assertEquals("full-blend", c.get("blender").get("strategy").asText());
            } else {
                assertTrue(choice.get("finish_reason").isNull(), c.toString());
            }
            content.append(delta.path("content").asText());
        }
        Reply whole = post(http, server, "/chat/completions", chat("37+48=", "\"seed\": 3"));
        assertEquals(whole.json().get("choices").get(0).get("message").get("content").asText(), content.toString(),
                "the streamed text is the answer exactly");
        assertTrue(chunks.size() >= 4, "role, at least one piece, finish, usage: " + events);
    }

    @Test
    void aCompletionAnswersABarePrompt() {
        Reply r = post(http, server, "/completions", "{\"model\": \"blender\", \"prompt\": \"17+62=\", \"seed\": 1,"
                + " \"blender\": {\"strategy\": \"token-combine\"}}");
        assertEquals(200, r.status(), r.body());
        JsonNode j = r.json();
        assertEquals("text_completion", j.get("object").asText());
        assertTrue(j.get("id").asText().startsWith("cmpl-"));
        assertEquals("79", j.get("choices").get(0).get("text").asText(), "README: the log-linear mix answers 79");
        assertEquals("token-combine", j.get("blender").get("strategy").asText());
        assertTrue(j.get("usage").get("blender").has("mixing"), j.toString());

        Reply streamed = post(http, server, "/completions", "{\"model\": \"blender\", \"prompt\": [\"17+62=\"],"
                + " \"stream\": true, \"blender\": {\"strategy\": \"token-combine\"}}");
        List<String> events = streamed.events();
        StringBuilder text = new StringBuilder();
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode c = ServerTestSupport.readJson(e);
            assertEquals("text_completion", c.get("object").asText());
            text.append(c.get("choices").get(0).get("text").asText());
        }
        assertEquals("79", text.toString());
        assertEquals("[DONE]", events.getLast());
    }

    @Test
    void theExtensionSetsTheStrategyAndReturnsTheCandidates() {
        Reply r = post(http, server, "/chat/completions", chat("85+95=", "\"seed\": 5, \"blender\": {\"strategy\":"
                + " \"FULL_BLEND\", \"candidates\": 2, \"top_k\": 2, \"return_candidates\": true}"));
        assertEquals(200, r.status(), r.body());
        JsonNode ext = r.json().get("blender");
        BlendResult local = blender.blend(BlendRequest.builder().prompt("85+95=").seed(5).strategy(Strategy.FULL_BLEND)
                .candidatesPerModel(2).topK(2).build());
        assertEquals(4, ext.get("candidates").size(), "2 generators x 2 candidates");
        for (int i = 0; i < 4; i++) {
            assertEquals(local.candidates().get(i).candidate().text().strip(),
                    ext.get("candidates").get(i).get("text").asText());
            assertEquals(local.candidates().get(i).model(), ext.get("candidates").get(i).get("model").asText());
        }
        assertEquals(local.fused().text().strip(), ext.get("fused").asText());
        assertEquals(local.answer(), r.json().get("choices").get(0).get("message").get("content").asText());
    }

    @Test
    void aGeneratorsIdAnswersWithThatGeneratorAlone() {
        Reply models = get(http, server, "/v1/models");
        assertEquals(200, models.status());
        List<String> ids = models.json().get("data").findValuesAsText("id");
        assertEquals(List.of("blender", "answerer-a.gguf", "answerer-b.gguf", "judge.gguf", "fuser.gguf"), ids);
        assertEquals("judge", models.json().get("data").get(3).get("blender").get("role").asText());
        assertEquals(200, get(http, server, "/v1/models/answerer-b.gguf").status());
        assertEquals(404, get(http, server, "/v1/models/gpt-4o").status());

        String b = blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.SINGLE)
                .generator(ServerTestSupport.arith("answerer-b")).build()).answer();
        Reply r = post(http, server, "/chat/completions", chat("17+62=", "").replace("\"blender\"", "\"answerer-b.gguf\""));
        assertEquals(200, r.status(), r.body());
        assertEquals(b, r.json().get("choices").get(0).get("message").get("content").asText());
        assertEquals("answerer-b.gguf", r.json().get("model").asText());
        assertEquals("single", r.json().get("blender").get("strategy").asText());
    }

    @Test
    void theHealthEndpointSaysOk() {
        Reply h = get(http, server, "/health");
        assertEquals(200, h.status());
        assertEquals("ok", h.json().get("status").asText());
        assertEquals(4, h.json().get("models").get("loaded").asInt());
    }

    /** Each bad request: its status, the parameter named, and the error's code. */
    @Test
    void everyBadRequestIsAnErrorInOpenAisShape() {
        record Bad(String path, String body, int status, String param, String code) {}
        List<Bad> cases = List.of(
                new Bad("/chat/completions", "{\"model\": ", 400, null, "invalid_body"),
                new Bad("/chat/completions", "[1]", 400, null, "invalid_body"),
                new Bad("/chat/completions", chat("1+1=", "\"tools\": []"), 400, "tools", "unsupported_parameter"),
                new Bad("/chat/completions", chat("1+1=", "\"n\": 2"), 400, "n", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"temperature\": \"hot\""), 400, "temperature", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"temperature\": -1"), 400, "temperature", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"top_p\": 0"), 400, "top_p", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"max_tokens\": 0"), 400, "max_tokens", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"stop\": [\"\"]"), 400, "stop", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"seed\": 1.5"), 400, "seed", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"presence_penalty\": 1"), 400, "presence_penalty",
                        "unsupported_parameter"),
                new Bad("/chat/completions", chat("1+1=", "\"stream_options\": {\"include_usage\": true}"), 400,
                        "stream_options", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"blender\": {\"strategy\": \"best\"}"), 400,
                        "blender.strategy", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"blender\": {\"temperature\": 1}"), 400,
                        "blender.temperature", "unsupported_parameter"),
                new Bad("/chat/completions", chat("1+1=", "\"blender\": {\"candidates\": 0}"), 400,
                        "blender.candidates", "invalid_value"),
                new Bad("/chat/completions", "{\"model\": \"blender\"}", 400, "messages", "invalid_value"),
                new Bad("/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"1+1=\"}]}", 400,
                        "model", "invalid_value"),
                new Bad("/chat/completions", "{\"model\": \"blender\", \"messages\": [{\"role\": \"user\", \"content\":"
                        + " \"1+1=\"}, {\"role\": \"assistant\", \"content\": \"2\"}]}", 400, "messages", "invalid_value"),
                new Bad("/chat/completions", "{\"model\": \"blender\", \"messages\": [{\"role\": \"tool\", \"content\":"
                        + " \"1+1=\"}]}", 400, "messages[0].role", "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "").replace("\"blender\"", "\"gpt-4o\""), 404, "model",
                        "model_not_found"),
                new Bad("/chat/completions", chat("1+1=", "").replace("\"blender\"", "\"judge.gguf\""), 400, "model",
                        "invalid_value"),
                new Bad("/chat/completions", chat("1+1=", "\"blender\": {\"strategy\": \"full-blend\"}")
                        .replace("\"model\": \"blender\"", "\"model\": \"answerer-a.gguf\""), 400, "blender.strategy",
                        "invalid_value"),
                new Bad("/completions", "{\"model\": \"blender\", \"prompt\": [1, 2]}", 400, "prompt", "invalid_value"),
                new Bad("/completions", "{\"model\": \"blender\", \"prompt\": \"1+1=\", \"messages\": []}", 400,
                        "messages", "unsupported_parameter"),
                new Bad("/completions", "{\"model\": \"blender\", \"prompt\": \"1+1=\", \"best_of\": 3}", 400,
                        "best_of", "unsupported_parameter"),
                new Bad("/embeddings", "{}", 404, null, "not_found"));
        for (Bad c : cases) {
            Reply r = post(http, server, c.path(), c.body());
            String what = c.path() + " " + c.body() + " -> " + r.body();
            assertEquals(c.status(), r.status(), what);
            JsonNode e = r.json().get("error");
            assertTrue(e != null && e.has("message") && e.has("type") && e.has("param") && e.has("code"), what);
            assertFalse(e.get("message").asText().isBlank(), what);
            assertEquals("invalid_request_error", e.get("type").asText(), what);
            if (c.param() == null) {
                assertTrue(e.get("param").isNull(), what);
            } else {
                assertEquals(c.param(), e.get("param").asText(), what);
            }
            assertEquals(c.code(), e.get("code").asText(), what);
        }
        Reply wrongMethod = get(http, server, "/v1/chat/completions");
        assertEquals(405, wrongMethod.status());
        assertEquals("POST", wrongMethod.headers().firstValue("allow").orElseThrow());
        assertEquals(0, server.stats().failed(), "refused before any blend ran");
    }

    @Test
    void aRequestThatIsNotHttpIsRefusedAndTheConnectionClosed() throws Exception {
        for (String raw : List.of("HELLO\r\n\r\n", "GET /health HTTP/2.0\r\n\r\n",
                "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "POST /v1/completions HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")) {
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                s.getOutputStream().write(raw.getBytes(StandardCharsets.US_ASCII));
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                assertTrue(reply.matches("(?s)HTTP/1\\.1 (400|411|413|505) .*Connection: close.*\\{\"error\":.*"), reply);
            }
        }
    }

    @Test
    void keepAliveServesManyRequestsOnOneConnectionAndHttp10ToClose() throws Exception {
        String body = chat("17+62=", "\"blender\": {\"strategy\": \"single\"}");
        String req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write((req + req).getBytes(StandardCharsets.UTF_8)); // pipelined: answered in order
            out.write("GET /health HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(3, all.split("HTTP/1\\.[01] 200 OK", -1).length - 1, all);
            assertEquals(2, all.split("\"content\":\"80\"", -1).length - 1, all);
            assertTrue(all.contains("HTTP/1.0 200 OK"), all);
        }
    }

    @Test
    void aServerWithAKeyRefusesOtherKeys() throws Exception {
        try (BlenderServer keyed = ServerTestSupport.start(BlenderServer.builder(blender).apiKey("sekret"))) {
            Reply none = get(http, keyed, "/v1/models");
            assertEquals(401, none.status());
            assertEquals("invalid_api_key", none.json().get("error").get("code").asText());
            assertEquals("Bearer", none.headers().firstValue("www-authenticate").orElseThrow());
            assertEquals(401, get(http, keyed, "/v1/models", "Authorization", "Bearer wrong").status());
            assertEquals(401, post(http, keyed, "/chat/completions", chat("1+1=", ""),
                    "Authorization", "Bearer sekretX").status());
            assertEquals(200, post(http, keyed, "/chat/completions", chat("1+1=", ""),
                    "Authorization", "Bearer sekret").status());
            assertEquals(200, get(http, keyed, "/health").status(), "health needs no key");
        }
    }

    @Test
    void whileTheModelsLoadCompletionsAre503WithRetryAfter() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BlenderServer loading = BlenderServer.builder(blender).port(0).loader(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }).build().start();
        try {
            Reply health = get(http, loading, "/health");
            assertEquals(503, health.status());
            assertEquals("loading", health.json().get("status").asText());
            Reply busy = post(http, loading, "/chat/completions", chat("1+1=", ""));
            assertEquals(503, busy.status(), busy.body());
            assertEquals("1", busy.headers().firstValue("retry-after").orElseThrow());
            assertEquals("model_loading", busy.json().get("error").get("code").asText());
            assertEquals(200, get(http, loading, "/v1/models").status(), "the ids are known before the models load");
            assertEquals(400, post(http, loading, "/chat/completions", chat("1+1=", "\"n\": 3")).status(),
                    "a bad request is told so at once");
            release.countDown();
            assertTrue(loading.awaitReady(java.time.Duration.ofSeconds(10)));
            assertEquals(200, post(http, loading, "/chat/completions", chat("1+1=", "")).status());
        } finally {
            release.countDown();
            loading.close();
        }
    }

    @Test
    void aLoadThatFailsIsToldByHealthAndEveryCompletion() throws Exception {
        BlenderServer broken = BlenderServer.builder(blender).port(0).loader(() -> {
            throw new IllegalStateException("disk on fire");
        }).build().start();
        try {
            assertTrue(!broken.awaitReady(java.time.Duration.ofSeconds(10)));
            Reply health = get(http, broken, "/health");
            assertEquals(503, health.status());
            assertEquals("error", health.json().get("status").asText());
            assertTrue(health.json().get("error").asText().contains("disk on fire"));
            Reply r = post(http, broken, "/chat/completions", chat("1+1=", ""));
            assertEquals(503, r.status());
            assertTrue(r.json().get("error").get("message").asText().contains("disk on fire"));
            assertNull(r.headers().firstValue("retry-after").orElse(null), "retrying will not help");
        } finally {
            broken.close();
        }
    }
}
