package dev.blender.runtime.server;

import static dev.blender.runtime.server.ServerTestSupport.client;
import static dev.blender.runtime.server.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.runtime.pipeline.Blender;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A conversation a member's own chat template refuses is the request's to change: a 400 naming why. */
class ChatTemplateRefusalTest {
    @Test
    void aSystemTurnGemma2HasNoPlaceForIsABadRequestNamingTheModelAndTheReason() throws Exception {
        Path template = TestModels.sharedFile("data/llama.cpp-v0.5.0/templates/google-gemma-2-2b-it.jinja");
        Path model = TestModels.generated("gemma2-template", SyntheticLlama.builder()
                .chatTemplate(Files.readString(template)).build());
        Blender blender = Blender.builder().generator(model).maxTokens(4).contextSize(256)
                .modelOptions(ModelOptions.defaults().withThreads(1)).build();
        try (blender; BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender))) {
            HttpClient http = client();
            ServerTestSupport.Reply refused = post(http, server, "/chat/completions", """
                    {"model": "blender", "seed": 1, "messages": [
                      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}""");
            assertEquals(400, refused.status(), refused.body());
            JsonNode error = refused.json().get("error");
            assertEquals("messages", error.get("param").asText(), refused.body());
            assertTrue(error.get("message").asText().contains("System role not supported")
                    && error.get("message").asText().contains(model.getFileName().toString()), refused.body());
            ServerTestSupport.Reply ok = post(http, server, "/chat/completions", """
                    {"model": "blender", "seed": 1, "messages": [{"role": "user", "content": "Hi"}]}""");
            assertEquals(200, ok.status(), "the server goes on serving: " + ok.body());
        }
    }
}
