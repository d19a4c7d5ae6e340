package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpServer;
import dev.blender.nativebridge.generation.DecodeOptions;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import java.io.IOException;
import java.net.http.HttpClient;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A per-token mix with a remote member samples its union with the request's whole sampler: the server lists
 * "a" 0.6, "b" 0.3, "c" 0.1 at every position, and top-p keeps the smallest set reaching p.
 */
class RemoteMixSamplingTest {

    private static String answer() {
        return String.format(Locale.ROOT, "{\"choices\":[{\"text\":\"a\",\"logprobs\":{\"tokens\":[\"a\"],"
                + "\"token_logprobs\":[%1$s],\"top_logprobs\":[{\"a\":%1$s,\"b\":%2$s,\"c\":%3$s}]},"
                + "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}",
                Math.log(0.6), Math.log(0.3), Math.log(0.1));
    }

    /** The first token the mix writes for each of 60 seeds. */
    private static Set<String> firstTokens(OpenAiClient client, SamplerOptions sampler) {
        RemoteMix mix = new RemoteMix(List.of(RemoteMix.Member.remote("listed", client)),
                CombineOptions.equal(CombineMethod.LINEAR, 1), 20);
        Set<String> seen = new TreeSet<>();
        for (long seed = 0; seed < 60; seed++) {
            RemoteMix.Result r = mix.generate("Q:", new DecodeOptions(1, sampler, List.of(), seed, null), () -> false,
                    TokenListener.NONE);
            assertEquals(FinishReason.LENGTH, r.candidate().finishReason());
            seen.add(r.candidate().text());
        }
        return seen;
    }

    @Test
    void topPIsHonoured() throws IOException {
        HttpServer server = RemoteLogprobShapesTest.answering(answer());
        try (HttpClient http = OpenAiClient.newHttpClient()) {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
            OpenAiClient client = new OpenAiClient(RemoteEndpoint.of(base, "m")
                    .withApi(RemoteEndpoint.Api.COMPLETIONS).withRetries(0), null, http);
            SamplerOptions plain = SamplerOptions.greedy().withTemperature(1f);
            assertEquals(Set.of("a", "b", "c"), firstTokens(client, plain), "the whole union, at p = 1");
            assertEquals(Set.of("a", "b"), firstTokens(client, plain.withTopP(0.85f)), "0.6 + 0.3 reach 0.85");
            assertEquals(Set.of("a"), firstTokens(client, plain.withTopP(0.5f)), "0.6 alone reaches 0.5");
            assertEquals(Set.of("a"), firstTokens(client, SamplerOptions.greedy()), "greedy: the most probable");
            // the temperature-only form is the whole sampler at that temperature
            RemoteMix mix = new RemoteMix(List.of(RemoteMix.Member.remote("listed", client)),
                    CombineOptions.equal(CombineMethod.LINEAR, 1), 20);
            for (long seed = 0; seed < 10; seed++) {
                String old = mix.generate("Q:", 1, 1f, List.of(), seed, () -> false, TokenListener.NONE)
                        .candidate().text();
                String now = mix.generate("Q:", new DecodeOptions(1, plain, List.of(), seed, null), () -> false,
                        TokenListener.NONE).candidate().text();
                assertEquals(old, now, "seed " + seed);
            }
        } finally {
            server.stop(0);
        }
    }
}
