package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each builder setter refuses a bad argument at once, naming the setting; no model file is read for that. */
class BlenderConfigBuilderTest {
    private static final Path MODEL = Path.of("a.gguf");
    private static final RemoteEndpoint ENDPOINT = RemoteEndpoint.of("http://h:1/v1", "m");

    static Stream<Arguments> badArguments() {
        return Stream.of(
                bad("generator must not be null", b -> b.generator((Path) null)),
                bad("generator adapter must not be null", b -> b.generator(MODEL, null, 1f, "x")),
                bad("has a blank name", b -> b.generator(MODEL, Path.of("ad.gguf"), 1f, " ")),
                bad("generator endpoint must not be null", b -> b.generator((RemoteEndpoint) null)),
                bad("generator name must not be null", b -> b.generator(ENDPOINT, null)),
                bad("judge must not be null", b -> b.judge(null)),
                bad("judge template must not be null", b -> b.judge(MODEL, null)),
                bad("judge template must not be null", b -> b.judge(ENDPOINT, null, "j")),
                bad("fuser must not be null", b -> b.fuser(null)),
                bad("fuser template must not be null", b -> b.fuser(MODEL, null)),
                bad("fuser endpoint must not be null", b -> b.fuser(null, FuserTemplate.llmBlender(), "f")),
                bad("reranker must not be null", b -> b.reranker(null)),
                bad("modelOptions must not be null", b -> b.modelOptions(null)),
                bad("modelOptions of a.gguf must not be null", b -> b.modelOptions(MODEL, null)),
                bad("contextSize must be >= 1, was 0", b -> b.contextSize(0)),
                bad("contextSize of a.gguf must be >= 1, was -3", b -> b.contextSize(MODEL, -3)),
                bad("candidatesPerModel must be >= 1, was 0", b -> b.candidatesPerModel(0)),
                bad("aggregation must not be null", b -> b.aggregation(null)),
                bad("topK must be >= 1, was 0", b -> b.topK(0)),
                bad("candidateSampler must not be null", b -> b.candidateSampler(null)),
                bad("answerSampler must not be null", b -> b.answerSampler(null)),
                bad("maxTokens must be >= 1, was 0", b -> b.maxTokens(0)),
                bad("fusedMaxTokens must be >= 1, was -1", b -> b.fusedMaxTokens(-1)),
                bad("combine must not be null", b -> b.combine(null)),
                bad("strategy must not be null", b -> b.strategy(null)),
                bad("composition must not be null", b -> b.composition(null)),
                bad("cascadeConfidence must be in [0, 1], was NaN", b -> b.cascadeConfidence(Double.NaN)),
                bad("cascadeConfidence must be in [0, 1], was 1.5", b -> b.cascadeConfidence(1.5)),
                bad("cascadeConfidence must be in [0, 1], was -0.1", b -> b.cascadeConfidence(-0.1)),
                bad("memoryBudgetBytes must be >= 1, was 0", b -> b.memoryBudgetBytes(0)),
                bad("deviceMemoryBudgetBytes must be >= 0 (0 = the GPUs' free memory), was -1",
                        b -> b.deviceMemoryBudgetBytes(-1)),
                bad("pairCacheSize must be >= 1, was 0", b -> b.pairCacheSize(0)),
                bad("stop must not be null", b -> b.stop(null)),
                bad("stop must not contain null", b -> b.stop(Arrays.asList("\n", null))),
                bad("generatorPrompt must contain {prompt}, was Q: A:", b -> b.generatorPrompt("Q: A:")),
                bad("generatorPrompt must contain {prompt}, was null", b -> b.generatorPrompt(null)),
                bad("probeTimeout must not be null", b -> b.probeTimeout(null)));
    }

    private static Arguments bad(String message, Consumer<BlenderConfig.Builder> set) {
        return Arguments.of(message, set);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badArguments")
    void aSetterRefusesABadArgumentNamingTheSetting(String message, Consumer<BlenderConfig.Builder> set) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> set.accept(Blender.builder()));
        assertEquals(true, e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void aSettingSetAgainTakesTheLastValueAndTheStopListIsCopied() {
        List<String> stop = new java.util.ArrayList<>(List.of("\n"));
        // a budget of 1 byte alone is refused at build (no model fits): the second value counts
        BlenderConfig c = Blender.builder().generator(TestModels.tiny()).memoryBudgetBytes(1).memoryBudgetBytes(8L << 30)
                .stop(stop).buildConfig();
        stop.add("x");
        assertEquals(8L << 30, c.memoryBudgetBytes());
        assertEquals(List.of("\n"), c.stop());
        assertThrows(IllegalArgumentException.class,
                () -> Blender.builder().generator(TestModels.tiny()).memoryBudgetBytes(1).buildConfig());
    }

    @Test
    void theSettingsRecordsHoldWhatWasSet() {
        Path tiny = TestModels.tiny();
        BlenderConfig c = Blender.builder().generator(tiny).maxTokens(7).fusedMaxTokens(9).candidatesPerModel(2)
                .topK(1).cascadeConfidence(0.25).pairCacheSize(10).contextSize(96).contextSize(tiny, 48)
                .memoryBudgetBytes(8L << 30).prefixReuse(true).buildConfig();
        assertEquals(new SamplingSettings(2, c.candidateSampler(), c.answerSampler(), 7, 9, List.of()), c.sampling());
        assertEquals(new RankingSettings(c.aggregation(), 1, 0.25, 10), c.ranking());
        assertEquals(48, c.resources().contextSizeFor(tiny));
        assertEquals(96, c.resources().contextSizeFor(Path.of("other.gguf")));
        assertEquals(true, c.resources().prefixReuse());
        assertEquals(c.modelOptions(), c.resources().modelOptionsFor(tiny));
    }
}
