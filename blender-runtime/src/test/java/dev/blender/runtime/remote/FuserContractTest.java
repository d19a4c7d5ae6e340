package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.Fuser;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.runtime.pipeline.ArithBlenders;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every {@link Fuser} does, checked on both: the arith fuser on a local context ({@link GenFuser}) and the same
 * model behind a {@link CompletionServer} ({@link RemoteFuser}). Both read the first K candidates, fewer padded with
 * the best, stream what they write and say what it cost; only the remote answer comes without tokens.
 */
class FuserContractTest {
    static LlamaModel model;
    static LlamaContext ctx;
    static CompletionServer server;
    static HttpClient http;

    @BeforeAll
    static void start() {
        model = LlamaModel.load(ArithBlenders.arith("fuser"), ModelOptions.defaults().withThreads(1));
        ctx = model.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1));
        server = CompletionServer.start(ArithBlenders.arith("fuser"), CompletionServer.Style.LLAMA_CPP);
        http = OpenAiClient.newHttpClient();
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {server, http, ctx, model}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
    }

    static Stream<Fuser> fusers() {
        RemoteEndpoint endpoint = RemoteEndpoint.of(server.baseUrl(), null).withApi(RemoteEndpoint.Api.COMPLETIONS)
                .withRetries(0).withTimeout(Duration.ofSeconds(30));
        return Stream.of(new GenFuser(ctx, FuserTemplate.arith()),
                new RemoteFuser(new OpenAiClient(endpoint, null, http), FuserTemplate.arith()));
    }

    static Fuser.Fusion fuse(Fuser fuser, String question, List<String> ranked, StringBuilder streamed) {
        return fuser.fuse(question, ranked, FuseOptions.greedy(8), (c, token, text) -> streamed.append(text));
    }

    @ParameterizedTest
    @MethodSource("fusers")
    void fewerThanKArePaddedWithTheBestAndOnlyTheFirstKAreRead(Fuser fuser) {
        StringBuilder ignored = new StringBuilder();
        // README: "Q: 39+99= C1: 148 C2: 128 C3: 138 Fused:" -> 138; one candidate is read as three copies of it
        String padded = fuse(fuser, "17+62=", List.of("79"), ignored).candidate().text();
        assertEquals(fuse(fuser, "17+62=", List.of("79", "79", "79"), ignored).candidate().text(), padded);
        assertEquals(fuse(fuser, "39+99=", List.of("148", "128", "138"), ignored).candidate().text(),
                fuse(fuser, "39+99=", List.of("148", "128", "138", "999", "1"), ignored).candidate().text(),
                "a fourth and fifth candidate are not read");
        // the padding repeats the best (the first), not the last
        assertEquals(fuse(fuser, "85+95=", List.of("180", "280", "180"), ignored).candidate().text(),
                fuse(fuser, "85+95=", List.of("180", "280"), ignored).candidate().text());
    }

    @ParameterizedTest
    @MethodSource("fusers")
    void theAnswerStreamsAndItsCostIsCounted(Fuser fuser) {
        StringBuilder streamed = new StringBuilder();
        Fuser.Fusion f = fuse(fuser, "85+95=", List.of("180", "280", "170"), streamed);
        assertEquals(f.candidate().text(), streamed.toString(), "the listener hears the answer as written");
        assertFalse(f.candidate().text().isBlank());
        assertTrue(f.promptTokens() > 0, "prompt tokens counted");
        assertTrue(f.generatedTokens() > 0, "answer tokens counted");
        if (fuser instanceof RemoteFuser) {
            assertEquals(0, f.candidate().tokenCount(), "a server's answer carries no token ids");
        } else {
            assertEquals(f.generatedTokens(), f.candidate().tokenCount());
        }
    }

    @org.junit.jupiter.api.Test
    void bothWriteTheSameAnswers() {
        List<Fuser> both = fusers().toList();
        // README's fuser examples, the last one wrong in both
        for (List<String> in : List.of(List.of("85+95=", "180", "280", "170"), List.of("39+99=", "148", "128", "138"),
                List.of("77-67=", "10", "0", "8"), List.of("17+62=", "79"))) {
            List<String> candidates = in.subList(1, in.size());
            StringBuilder ignored = new StringBuilder();
            assertEquals(fuse(both.get(0), in.get(0), candidates, ignored).candidate().text(),
                    fuse(both.get(1), in.get(0), candidates, ignored).candidate().text(), in.toString());
        }
        assertEquals("Q: 17+62= C1: 79 C2: 79 C3: 79 Fused:", ((RemoteFuser) both.get(1)).prompt("17+62=", List.of("79")));
    }

    @ParameterizedTest
    @MethodSource("fusers")
    void nothingToFuseIsRefused(Fuser fuser) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> fuser.fuse("1+1=", List.of(), FuseOptions.greedy(4), TokenListener.NONE));
        assertTrue(e.getMessage().contains("no candidates"), e.getMessage());
    }
}
