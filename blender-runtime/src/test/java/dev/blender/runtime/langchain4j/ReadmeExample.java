package dev.blender.runtime.langchain4j;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.rag.content.Content;
import dev.langchain4j.rag.content.aggregator.ContentAggregator;
import dev.langchain4j.rag.content.aggregator.ReRankingContentAggregator;
import dev.langchain4j.rag.query.Query;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.UserMessage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The LangChain4j example of docs/langchain4j.md, which shows the lines between the markers (one indent less);
 * a test compares the two and runs these methods, so the document's code compiles and does what it says.
 */
final class ReadmeExample {
    private ReadmeExample() {}

    // README-BEGIN
    interface Calculator {
        @UserMessage("{{it}}")
        String answer(String question);
    }

    /** The arith family of ../shared/models/arith: two weak answerers, a judge and a fuser. */
    static Blender arithBlender(Path arith) {
        return Blender.builder()
                .generator(arith.resolve("answerer-a.gguf")).generator(arith.resolve("answerer-b.gguf"))
                .judge(arith.resolve("judge.gguf"), JudgeTemplate.arith())
                .fuser(arith.resolve("fuser.gguf"), FuserTemplate.arith())
                .contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:")
                .build();
    }

    /** An AI service answering through a blend: "17+62=" gives 79, where answerer-a alone says 80. */
    static String ask(Blender blender, String question) {
        ChatModel model = BlenderChatModel.builder().blender(blender)
                .strategy(Strategy.TOKEN_COMBINE)     // or FULL_BLEND with .candidates(4).topK(3).seed(7L)
                .build();
        Calculator calculator = AiServices.create(Calculator.class, model);
        return calculator.answer(question);
    }

    /** Retrieved segments re-ranked by the blender's judge, best first; those below 0.5 dropped. */
    static List<String> rerank(Blender blender, String query, List<String> segments) {
        ContentAggregator aggregator = ReRankingContentAggregator.builder()
                .scoringModel(BlenderScoringModel.builder().blender(blender).build())
                .minScore(0.5)                        // the judge prefers it to the average other segment
                .build();
        List<Content> retrieved = segments.stream().map(Content::from).toList();
        return aggregator.aggregate(Map.of(Query.from(query), List.of(retrieved))).stream()
                .map(c -> c.textSegment().text()).toList();
    }

    /** The fused answer streamed as it is decoded; {@code handle.cancel()} would stop the blend. */
    static CompletableFuture<ChatResponse> stream(Blender blender, String question, Consumer<String> text) {
        StreamingChatModel model = BlenderStreamingChatModel.builder().blender(blender)
                .strategy(Strategy.FULL_BLEND).seed(7L).build();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(question, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                text.accept(partial.text());          // context.streamingHandle().cancel() stops it here
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);              // metadata: token usage of every stage, finish reason
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        return done;
    }
    // README-END
}
