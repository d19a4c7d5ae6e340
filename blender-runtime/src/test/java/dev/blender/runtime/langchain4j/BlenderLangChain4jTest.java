package dev.blender.runtime.langchain4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.PoolingType;
import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.embedding.EmbeddingConsensusScorer;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.pairranker.reranker.TinyBertReranker;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import dev.langchain4j.service.AiServices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The LangChain4j models over a real blend of the arith family, driven through LangChain4j itself. */
class BlenderLangChain4jTest {
    private static Blender blender;

    @BeforeAll
    static void loadArith() {
        blender = ReadmeExample.arithBlender(TestModels.sharedFile("models/arith"));
    }

    @AfterAll
    static void close() {
        if (blender != null) {
            blender.close();
        }
    }

    @Test
    void anAiServiceAnswersThroughABlend() {
        assertEquals("79", ReadmeExample.ask(blender, "17+62="), "README: the log-linear mix of a and b answers 79");
        // a full blend through AiServices is the blend itself, called with the same settings
        ChatModel model = BlenderChatModel.builder().blender(blender).strategy(Strategy.FULL_BLEND).candidates(4)
                .topK(3).seed(7L).build();
        String viaLangChain4j = AiServices.create(ReadmeExample.Calculator.class, model).answer("17+62=");
        BlendResult direct = blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.FULL_BLEND)
                .candidatesPerModel(4).topK(3).seed(7).build());
        assertEquals(direct.answer(), viaLangChain4j);
    }

    @Test
    void theResponseCarriesUsageFinishReasonAndTheStrategyAsModelName() {
        BlenderChatModel model = BlenderChatModel.builder().blender(blender).strategy(Strategy.FULL_BLEND).seed(3L)
                .build();
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("37+48=")).build());
        assertEquals("85", r.aiMessage().text(), "BlenderTest: the full blend answers 85");
        assertEquals("full-blend", r.metadata().modelName());
        assertEquals(FinishReason.STOP, r.metadata().finishReason());
        BlendResult blend = assertInstanceOf(BlenderChatResponseMetadata.class, r.metadata()).blendResult();
        assertEquals(8, blend.candidates().size());
        TokenUsage usage = r.metadata().tokenUsage();
        assertEquals(blend.usage().promptTokens(), usage.inputTokenCount().longValue());
        assertEquals(blend.usage().generatedTokens(), usage.outputTokenCount().longValue());
        assertEquals(blend.usage().totalTokens(), usage.totalTokenCount().longValue());
        assertTrue(usage.inputTokenCount() > 100, "every stage counts, the judge's prompts among them: " + usage);
    }

    @Test
    void theBlendSettingsAreTheDefaultRequestParameters() {
        BlenderChatRequestParameters defaults = BlenderChatModel.builder().blender(blender).candidates(2).topK(2)
                .seed(9L).temperature(0.5).build().defaultRequestParameters();
        assertEquals("full-blend", defaults.modelName(), "the blender's own strategy");
        assertEquals(2, defaults.candidates());
        assertEquals(2, defaults.fuseTopK());
        assertEquals(9L, defaults.seed());
        assertEquals(0.5, defaults.temperature());
        assertNull(defaults.maxOutputTokens(), "the blender's own differ between candidates and answer");
        BlenderChatRequestParameters unset = BlenderStreamingChatModel.builder().blender(blender).build()
                .defaultRequestParameters();
        assertEquals(blender.config().candidatesPerModel(), unset.candidates());
        assertEquals(blender.config().topK(), unset.fuseTopK());
        assertEquals(BlendRequest.of("x").seed(), unset.seed());
        assertNull(unset.temperature());
        // merged either way round, the blend settings survive LangChain4j's plain parameters
        ChatRequestParameters plain = ChatRequestParameters.builder().temperature(0.1).build();
        BlenderChatRequestParameters blend = BlenderChatRequestParameters.builder().candidates(3).build();
        for (ChatRequestParameters merged : List.of(plain.overrideWith(blend), blend.overrideWith(plain),
                plain.defaultedBy(blend), blend.defaultedBy(plain))) {
            BlenderChatRequestParameters b = assertInstanceOf(BlenderChatRequestParameters.class, merged);
            assertEquals(3, b.candidates());
            assertEquals(0.1, b.temperature());
        }
    }

    @Test
    void requestParametersMapOntoTheBlend() {
        BlenderChatModel model = BlenderChatModel.builder().blender(blender).build();
        // the model name picks the strategy, in any spelling
        ChatResponse single = model.chat(request("17+62=", ChatRequestParameters.builder().modelName("SINGLE").build()));
        assertEquals("80", single.aiMessage().text(), "README: answerer-a alone answers 80");
        assertEquals("single", single.metadata().modelName());
        // a token budget ends the answer: LENGTH
        ChatResponse cut = model.chat(request("17+62=", ChatRequestParameters.builder().modelName("single")
                .maxOutputTokens(2).build()));
        assertEquals("8", cut.aiMessage().text(), "' 8' is two tokens of ' 80'");
        assertEquals(FinishReason.LENGTH, cut.metadata().finishReason());
        // a stop sequence ends it too: STOP
        ChatResponse stopped = model.chat(request("17+62=", ChatRequestParameters.builder().modelName("single")
                .stopSequences("0").build()));
        assertEquals("8", stopped.aiMessage().text());
        assertEquals(FinishReason.STOP, stopped.metadata().finishReason());
        // the blend's own settings
        ChatResponse few = model.chat(request("17+62=", BlenderChatRequestParameters.builder().modelName("full-blend")
                .candidates(2).fuseTopK(2).seed(5L).temperature(0.8).build()));
        BlendResult r = ((BlenderChatResponseMetadata) few.metadata()).blendResult();
        assertEquals(4, r.candidates().size(), "2 candidates from each of 2 generators");
        assertEquals(blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.FULL_BLEND).candidatesPerModel(2)
                .topK(2).seed(5).temperature(0.8f).build()).answer(), few.aiMessage().text());
        // a conversation: the system and earlier turns go to the generators' chat templates
        ChatResponse conversation = model.chat(ChatRequest.builder().messages(SystemMessage.from("Add."),
                UserMessage.from("1+1="), AiMessage.from("2"), UserMessage.from("17+62=")).parameters(
                ChatRequestParameters.builder().modelName("token-combine").build()).build());
        assertFalse(conversation.aiMessage().text().isEmpty());
    }

    @Test
    void whatABlendCannotDoIsRefusedByName() {
        BlenderChatModel model = BlenderChatModel.builder().blender(blender).build();
        assertUnsupported(model, "topK", ChatRequestParameters.builder().topK(5).build());
        assertUnsupported(model, "frequencyPenalty", ChatRequestParameters.builder().frequencyPenalty(0.5).build());
        assertUnsupported(model, "presencePenalty", ChatRequestParameters.builder().presencePenalty(0.5).build());
        assertUnsupported(model, "tools", ChatRequestParameters.builder().toolSpecifications(
                ToolSpecification.builder().name("add").description("adds").build()).build());
        assertUnsupported(model, "JSON", ChatRequestParameters.builder().responseFormat(ResponseFormat.JSON).build());
        UnsupportedFeatureException image = assertThrows(UnsupportedFeatureException.class, () -> model.chat(
                ChatRequest.builder().messages(UserMessage.from(TextContent.from("what is this?"),
                        ImageContent.from("https://example.com/a.png"))).build()));
        assertTrue(image.getMessage().contains("image"), image.getMessage());
        UnsupportedFeatureException tool = assertThrows(UnsupportedFeatureException.class, () -> model.chat(
                ChatRequest.builder().messages(UserMessage.from("17+62="),
                        ToolExecutionResultMessage.from("id", "add", "79"), UserMessage.from("sure?")).build()));
        assertTrue(tool.getMessage().contains("tool_execution_result"), tool.getMessage());
        // values out of range, an unknown strategy, a conversation that does not end with the user
        IllegalArgumentException hot = assertThrows(IllegalArgumentException.class, () -> model.chat(
                request("17+62=", ChatRequestParameters.builder().temperature(-1.0).build())));
        assertTrue(hot.getMessage().contains("temperature"), hot.getMessage());
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class, () -> model.chat(
                request("17+62=", ChatRequestParameters.builder().modelName("gpt-4o").build())));
        assertTrue(name.getMessage().contains("gpt-4o") && name.getMessage().contains("full-blend"), name.getMessage());
        IllegalArgumentException last = assertThrows(IllegalArgumentException.class, () -> model.chat(
                UserMessage.from("17+62="), AiMessage.from("79")));
        assertTrue(last.getMessage().contains("last message"), last.getMessage());
        // and the builder checks its settings before any request
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderChatModel.builder().build())
                .getMessage().contains("blender"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderChatModel.builder().blender(blender)
                .candidates(0).build()).getMessage().contains("candidatesPerModel"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderStreamingChatModel.builder()
                .blender(blender).topP(1.5).build()).getMessage().contains("topP"));
        try (Blender one = Blender.builder().generator(TestModels.sharedFile("models/arith/answerer-a.gguf"))
                .contextSize(64).build()) {
            IllegalArgumentException combine = assertThrows(IllegalArgumentException.class,
                    () -> BlenderChatModel.builder().blender(one).strategy(Strategy.TOKEN_COMBINE).build());
            assertTrue(combine.getMessage().contains("token-combine"), combine.getMessage());
            assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderScoringModel.builder().blender(one)
                    .build()).getMessage().contains("no judge or reranker"));
        }
    }

    private static void assertUnsupported(ChatModel model, String named, ChatRequestParameters parameters) {
        UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class,
                () -> model.chat(request("17+62=", parameters)));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }

    private static ChatRequest request(String question, ChatRequestParameters parameters) {
        return ChatRequest.builder().messages(UserMessage.from(question)).parameters(parameters).build();
    }

    @Test
    void theAnswerStreamsAndAddsUpToTheResponse() throws Exception {
        List<String> pieces = new CopyOnWriteArrayList<>();
        ChatResponse r = ReadmeExample.stream(blender, "37+48=", pieces::add).get(60, TimeUnit.SECONDS);
        assertTrue(pieces.size() >= 2, pieces.toString());
        assertEquals(r.aiMessage().text(), String.join("", pieces));
        assertEquals(blender.blend(BlendRequest.builder().prompt("37+48=").seed(7).build()).answer(), r.aiMessage().text());
        assertEquals(FinishReason.STOP, r.metadata().finishReason());
    }

    @Test
    void cancellingThroughTheStreamingHandleStopsTheBlend() throws Exception {
        BlenderStreamingChatModel model = BlenderStreamingChatModel.builder().blender(blender)
                .strategy(Strategy.FULL_BLEND).seed(7L).build();
        Recorder cancelling = new Recorder(true);
        model.chat("37+48=", cancelling);
        BlenderStreamingHandle handle = cancelling.handle.get(60, TimeUnit.SECONDS);
        ExecutionException ended = assertThrows(ExecutionException.class, () -> handle.result().get(60, TimeUnit.SECONDS));
        assertInstanceOf(CancellationException.class, ended.getCause(), "the blend stopped before its end");
        assertTrue(handle.isCancelled());
        assertEquals(1, cancelling.pieces.size(), "no partial response after cancel(): " + cancelling.pieces);
        assertNull(cancelling.completed, "no onCompleteResponse after cancel()");
        assertNull(cancelling.error, "no onError after cancel()");
        // the same request uncancelled streams more and completes; the blender stays usable
        Recorder whole = new Recorder(false);
        model.chat("37+48=", whole);
        BlendResult done = whole.handle.get(60, TimeUnit.SECONDS).result().get(60, TimeUnit.SECONDS);
        assertTrue(whole.pieces.size() > 1, whole.pieces.toString());
        assertEquals(done.answer(), whole.completed.aiMessage().text());
    }

    /** Records callbacks; cancels at the first partial response when asked to. */
    private static final class Recorder implements StreamingChatResponseHandler {
        final boolean cancel;
        final List<String> pieces = new CopyOnWriteArrayList<>();
        final CompletableFuture<BlenderStreamingHandle> handle = new CompletableFuture<>();
        volatile ChatResponse completed;
        volatile Throwable error;

        Recorder(boolean cancel) {
            this.cancel = cancel;
        }

        @Override
        public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
            pieces.add(partial.text());
            handle.complete((BlenderStreamingHandle) context.streamingHandle());
            if (cancel) {
                context.streamingHandle().cancel();
            }
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            completed = response;
        }

        @Override
        public void onError(Throwable e) {
            error = e;
            handle.completeExceptionally(e);
        }
    }

    @Test
    void theJudgeScoresSegmentsAndReRanksRetrievedContent() {
        BlenderScoringModel scoring = BlenderScoringModel.builder().blender(blender).build();
        Response<List<Double>> r = scoring.scoreAll(List.of(TextSegment.from("80"), TextSegment.from("79"),
                TextSegment.from("12")), "17+62=");
        List<Double> s = r.content();
        assertEquals(s.get(1), Collections.max(s), "the right answer scores highest: " + s);
        assertTrue(s.stream().allMatch(x -> x > 0 && x < 1), s.toString());
        assertTrue(r.tokenUsage().inputTokenCount() > 0);
        // LangChain4j's re-ranking aggregator orders by these scores and drops those under its minScore
        assertEquals("79", ReadmeExample.rerank(blender, "17+62=", List.of("12", "80", "79")).get(0));
        assertEquals(List.of("85"), ReadmeExample.rerank(blender, "37+48=", List.of("84", "85", "75")),
                "the judge prefers 85 to 84 and 75 by far, and neither of those to the average other");
        // nothing to compare with: even; equal texts judged once
        assertEquals(0.5, scoring.score("79", "17+62=").content());
        List<Double> twice = scoring.scoreAll(List.of(TextSegment.from("79"), TextSegment.from("80"),
                TextSegment.from("79")), "17+62=").content();
        assertEquals(twice.get(0), twice.get(2));
        assertEquals(1.0, twice.get(0) + twice.get(1), 1e-9, "two segments: the probabilities of one pair");
    }

    /** A reranker scores each segment on its own: its relevance logits, as RerankerScorer gives them. */
    @Test
    void aRerankerScoresEachSegmentOnItsOwn(@TempDir Path dir) throws IOException {
        Path reranker = dir.resolve("tiny-bert-reranker.gguf");
        new TinyBertReranker(7).writeTo(reranker); // random weights: the scores mean nothing, but are exact
        String query = "what is the capital of france?";
        List<String> texts = List.of("paris is the capital of france.", "the cat sat on the mat.", "the sky is blue.");
        double[] expected;
        try (LlamaModel m = LlamaModel.load(reranker); LlamaContext ctx = m.newContext(ContextOptions.defaults()
                .withContextSize(256).withMaxSequences(4).withThreads(1).withEmbeddings(true, PoolingType.RANK))) {
            expected = new RerankerScorer(ctx).score(query, texts);
        }
        try (Blender ranking = Blender.builder().generator(TestModels.sharedFile("models/arith/answerer-a.gguf"))
                .reranker(reranker).contextSize(64).modelOptions(ModelOptions.defaults().withThreads(1)).build()) {
            BlenderScoringModel scoring = BlenderScoringModel.builder().blender(ranking).build();
            Response<List<Double>> r = scoring.scoreAll(texts.stream().map(TextSegment::from).toList(), query);
            assertArrayEquals(expected, r.content().stream().mapToDouble(Double::doubleValue).toArray(), 1e-4);
            assertTrue(r.tokenUsage().inputTokenCount() > 3 * 8, r.tokenUsage().toString());
            // pointwise: a segment alone scores as it does among others
            assertEquals(expected[1], scoring.score(texts.get(1), query).content(), 1e-4);
        }
    }

    /**
     * langchain4j-core 1.19.0 (this module's) and the embedding model (pairranker's, now from the same
     * LangChain4j release) on one class path: the model still loads and scores.
     */
    @Test
    void theEmbeddingModelStillLoadsBesideLangChain4jCore() {
        try (EmbeddingConsensusScorer scorer = new EmbeddingConsensusScorer()) {
            double[] s = scorer.score("What is the capital of France?",
                    List.of("Paris is the capital of France.", "The capital of France is Paris.", "Bananas are yellow."));
            assertTrue(s[2] < s[0] && s[2] < s[1], Arrays.toString(s));
        }
    }

    /** docs/langchain4j.md's block is {@link ReadmeExample}'s marked region, which the tests above run. */
    @Test
    void theReadmeShowsTheExampleTheTestsRun() throws IOException {
        List<String> source = Files.readAllLines(Path.of("src/test/java/dev/blender/runtime/langchain4j/ReadmeExample.java"));
        List<String> region = source.subList(source.indexOf("    // README-BEGIN") + 1, source.indexOf("    // README-END"))
                .stream().map(l -> l.startsWith("    ") ? l.substring(4) : l).toList();
        String doc = Files.readString(Path.of("../docs/langchain4j.md"));
        String block = "```java\n" + String.join("\n", region) + "\n```";
        assertTrue(doc.contains(block), "docs/langchain4j.md lacks ReadmeExample's region as a java block:\n" + block);
    }
}
