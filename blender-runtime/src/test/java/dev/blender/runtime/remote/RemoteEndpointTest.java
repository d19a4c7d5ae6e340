package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RemoteEndpointTest {
    @Test
    void theCommandLineFormGivesTheModelAfterTheHash() {
        RemoteEndpoint e = RemoteEndpoint.parse("http://gpu-box:8080/v1/#qwen2.5:7b");
        assertEquals(URI.create("http://gpu-box:8080/v1"), e.baseUrl());
        assertEquals("qwen2.5:7b", e.model());
        assertEquals("qwen2.5:7b", e.defaultName());
        assertEquals(URI.create("http://gpu-box:8080/v1/chat/completions"), e.endpoint());
        RemoteEndpoint bare = RemoteEndpoint.parse("https://example.org/v1");
        assertNull(bare.model());
        assertEquals("example.org", bare.defaultName());
        assertEquals("127.0.0.1:9", RemoteEndpoint.parse("http://127.0.0.1:9/v1#").defaultName());
        assertEquals(URI.create("http://h:1/v1/completions"),
                RemoteEndpoint.parse("http://h:1/v1").withApi(RemoteEndpoint.Api.COMPLETIONS).endpoint());
    }

    @Test
    void malformedUrlsAreRefusedNamingThem() {
        for (String bad : new String[] {"http://", "ftp://host/v1", "http://host:8080/v1?x=1", "http://ho st/v1",
                "localhost:8080/v1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RemoteEndpoint.of(bad, "m"),
                    bad);
            assertTrue(e.getMessage().contains("malformed URL '" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void badSettingsAreRefused() {
        RemoteEndpoint e = RemoteEndpoint.of("http://h:1/v1", "m");
        assertThrows(IllegalArgumentException.class, () -> e.withRetries(-1));
        assertThrows(IllegalArgumentException.class, () -> e.withTimeout(java.time.Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> RemoteEndpoint.of("http://h:1/v1", " "));
        IllegalArgumentException api = assertThrows(IllegalArgumentException.class, () -> RemoteEndpoint.Api.parse("x"));
        assertTrue(api.getMessage().contains("chat or completions"), api.getMessage());
    }

    @Test
    void theKeyComesFromItsVariableAndAMissingOneIsNamed() {
        RemoteEndpoint e = RemoteEndpoint.of("http://h:1/v1", "m").withApiKeyEnv("MY_KEY");
        assertEquals("sk-1", e.apiKey(Map.of("MY_KEY", "sk-1")::get));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> e.apiKey(Map.<String, String>of()::get));
        assertTrue(missing.getMessage().contains("MY_KEY") && missing.getMessage().contains("http://h:1/v1"),
                missing.getMessage());
        assertNull(RemoteEndpoint.of("http://h:1/v1", "m").apiKey(v -> {
            throw new AssertionError("no variable to read");
        }));
    }
}
