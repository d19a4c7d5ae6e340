package dev.blender.genfuser;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.SpeculationStats;
import dev.blender.nativebridge.generation.TokenListener;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The arith fuser with guesses from its candidates: the same answers, token for token, as without, in fewer decodes.
 * The candidates are the arith answerers' own, as the blend gives them: each answerer's greedy answer (a, b, c), and
 * the three most frequent of 4 samples per answerer at temperature 0.8 (the README's "3 most frequent candidates +
 * fuser").
 */
class SpeculativeFusionTest {
    private static final int PROBLEMS = 100;

    static List<String> questions(int n) throws IOException {
        Pattern q = Pattern.compile("\"question\"\\s*:\\s*\"([^\"]*)\"");
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(TestModels.sharedFile("data/arith/dev.jsonl"))) {
            Matcher m = q.matcher(line);
            if (m.find() && out.size() < n) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    @Test
    void arithFusionWithGuessesGivesTheSameAnswersInFewerDecodes() throws IOException {
        List<String> questions = questions(PROBLEMS);
        String[] names = {"answerer-a", "answerer-b", "answerer-c"};
        List<List<String>> greedy = new ArrayList<>();
        List<List<String>> frequent = new ArrayList<>();
        for (String ignored : questions) {
            greedy.add(new ArrayList<>());
            frequent.add(new ArrayList<>());
        }
        List<Map<String, Integer>> votes = new ArrayList<>();
        for (String ignored : questions) {
            votes.add(new LinkedHashMap<>());
        }
        for (String name : names) {
            try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/" + name + ".gguf"));
                    LlamaContext c = m.newContext(ContextOptions.defaults().withContextSize(64).withMaxSequences(4)
                            .withThreads(1))) {
                for (int i = 0; i < questions.size(); i++) {
                    GenerationRequest req = GenerationRequest.of(m.vocab().tokenize("Q: " + questions.get(i) + " A:"))
                            .withMaxTokens(8);
                    greedy.get(i).add(Generator.generate(c, req).get(0).text().strip());
                    for (Candidate s : Generator.generate(c, req.withCandidates(4)
                            .withSampler(SamplerOptions.defaults().withTemperature(0.8f)).withSeed(1000L * i))) {
                        votes.get(i).merge(s.text().strip(), 1, Integer::sum);
                    }
                }
            }
        }
        for (int i = 0; i < questions.size(); i++) {
            // most frequent first; ties in the order first seen (the sort is stable)
            List<Map.Entry<String, Integer>> sorted = new ArrayList<>(votes.get(i).entrySet());
            sorted.sort((x, y) -> y.getValue() - x.getValue());
            for (int k = 0; k < Math.min(3, sorted.size()); k++) {
                frequent.get(i).add(sorted.get(k).getKey());
            }
        }
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/fuser.gguf"));
                LlamaContext c = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
            GenFuser fuser = new GenFuser(c, FuserTemplate.arith());
            for (var set : List.of(Map.entry("greedy a, b, c", greedy), Map.entry("3 most frequent of 12", frequent))) {
                SpeculationStats total = SpeculationStats.NONE;
                int tokens = 0;
                for (int i = 0; i < questions.size(); i++) {
                    List<String> in = set.getValue().get(i);
                    Candidate plain = fuser.fuse(questions.get(i), in, FuseOptions.greedy(8).withDraftTokens(0),
                            TokenListener.NONE).candidate();
                    Candidate spec = fuser.fuse(questions.get(i), in, FuseOptions.greedy(8), TokenListener.NONE).candidate();
                    String what = set.getKey() + ": " + questions.get(i) + " " + in;
                    assertArrayEquals(plain.tokens(), spec.tokens(), what);
                    assertEquals(plain.text(), spec.text(), what);
                    assertEquals(plain.finishReason(), spec.finishReason(), what);
                    assertEquals(SpeculationStats.NONE, plain.speculation());
                    total = total.plus(spec.speculation());
                    tokens += spec.tokenCount();
                }
                // plain decoding: one decode per answer token after the first, and one more for the end
                int plainDecodes = total.decodes() + total.decodesSaved();
                System.out.printf("arith fuser, %d problems, candidates %s: %d answer tokens, %d drafted, %d accepted"
                        + " (%.1f%% of answer tokens from guesses, %.1f%% of guesses kept), decodes %d instead of %d"
                        + " (%d saved, %.1f%%)%n", questions.size(), set.getKey(), tokens, total.drafted(),
                        total.accepted(), 100.0 * total.accepted() / tokens, 100.0 * total.acceptanceRate(),
                        total.decodes(), plainDecodes, total.decodesSaved(), 100.0 * total.decodesSaved() / plainDecodes);
                // a fuser copies a candidate in most problems: most of the answer comes from guesses
                assertTrue(total.accepted() > tokens / 2, set.getKey() + ": " + total + " over " + tokens + " tokens");
                assertTrue(total.decodesSaved() > plainDecodes / 2, set.getKey() + ": " + total);
            }
        }
    }
}
