package dev.blender.runtime.server;

import static dev.blender.runtime.server.ServerTestSupport.client;
import static dev.blender.runtime.server.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.Family;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.FamilyBlenders;
import java.net.http.HttpClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code serve}: the blend of three real families behind {@code /v1/chat/completions}. */
class RealFamiliesServerTest {
    @Test
    void aSystemAndUserConversationIsBlendedAcrossThreeFamiliesOverHttp() throws Exception {
        List<ChatMessage> conversation = List.of(ChatMessage.system("Answer in a few words."),
                ChatMessage.user("What is the capital of France?"));
        Blender blender = FamilyBlenders.blend().build();
        try (blender; BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender))) {
            HttpClient http = client();
            ServerTestSupport.Reply r = post(http, server, "/chat/completions", """
                    {"model": "blender", "seed": 1, "messages": [
                      {"role": "system", "content": "Answer in a few words."},
                      {"role": "user", "content": "What is the capital of France?"}],
                     "blender": {"strategy": "full-blend", "return_candidates": true}}""");
            assertEquals(200, r.status(), r.body());
            JsonNode json = r.json();
            assertEquals(FamilyBlenders.FUSED, json.get("choices").get(0).get("message").get("content").asText());
            Map<String, String> byModel = new HashMap<>();
            for (JsonNode c : json.get("blender").get("candidates")) {
                byModel.put(c.get("model").asText(), c.get("text").asText());
            }
            for (Family f : FamilyBlenders.GENERATORS) {
                assertEquals(FamilyBlenders.ANSWERS.get(f), byModel.get(FamilyBlenders.generator(f).getFileName().toString()),
                        f + " answered in its own vocabulary and stopped at " + f.endOfTurn() + ": " + byModel);
            }
            assertEquals(FamilyBlenders.ownFormatPromptTokens(conversation),
                    json.get("usage").get("blender").get("sampling").get("prompt_tokens").asLong(),
                    "each member read the system and user turns in its own chat format");
            assertTrue(json.get("usage").get("blender").get("ranking").get("prompt_tokens").asLong() > 0, "the judge ranked");
            assertEquals(3, json.get("blender").get("ranking").size(), json.get("blender").toString());
        }
    }
}
