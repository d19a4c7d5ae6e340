package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.blender.runtime.server.BlendResultJson;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Route stages: their JSON, their place in a composition, and what they choose on the arith answerers. */
class RouteTest {
    static final Stage.RouteRule BY_OPERATION = new Stage.RouteRule.Cases(List.of(
            new Stage.RouteCase("\\+", List.of("answerer-a")), new Stage.RouteCase(null, List.of("answerer-b"))));
    static final Stage.RouteRule BY_EXAMPLES = new Stage.RouteRule.Similarity(Map.of(
            "answerer-a", List.of("12+34=", "25+61=", "40+17="),
            "answerer-b", List.of("56-12=", "90-45=", "73-28=")));

    @Test
    void everyRuleSurvivesAJsonRoundTrip() {
        Composition c = Composition.builder("routed").route(BY_OPERATION).sampleAnswers().build();
        assertEquals(c, CompositionJson.parse(CompositionJson.write(c).toString()));
        Composition s = Composition.builder("similar").route(BY_EXAMPLES, 2).sample().vote().build();
        assertEquals(s, CompositionJson.parse(CompositionJson.write(s).toString()));
        Composition k = Composition.builder("sure").route(new Stage.RouteRule.Confidence(3), 1).mix(null).build();
        assertEquals(k, CompositionJson.parse(CompositionJson.write(k).toString()));
        Composition d = Composition.builder("defaults").route(new Stage.RouteRule.Confidence(null)).sample().build();
        assertEquals(d, CompositionJson.parse(CompositionJson.write(d).toString()));
    }

    @Test
    void theIssuesJsonReadsAsWritten() {
        Composition c = CompositionJson.parse("""
                {"name": "by-op", "stages": [
                  {"stage": "route", "rule": "rule", "cases": [{"when": "\\\\+", "models": ["add"]}, {"models": ["sub"]}]},
                  {"stage": "sample", "perModel": 1, "sampler": "answer"}]}""");
        Stage.Route route = (Stage.Route) c.stages().get(0);
        Stage.RouteRule.Cases cases = (Stage.RouteRule.Cases) route.rule();
        assertEquals("\\+", cases.cases().get(0).when());
        assertTrue(cases.cases().get(0).matches("17+62="));
        assertFalse(cases.cases().get(0).matches("77-67="));
        assertTrue(cases.cases().get(1).matches("77-67="), "the default applies to anything");

        Stage.Route similar = (Stage.Route) CompositionJson.parse("""
                [{"stage": "route", "rule": "similarity", "examples": {"add": ["37+48="], "sub": ["77-67="]},
                  "pick": 1}, "sample"]""").stages().get(0);
        assertEquals(List.of("add", "sub"), List.copyOf(((Stage.RouteRule.Similarity) similar.rule()).examples().keySet()));
        assertEquals(1, similar.pickOrDefault());

        Stage.Route sure = (Stage.Route) CompositionJson.parse("""
                [{"stage": "route", "rule": "confidence"}, "sample"]""").stages().get(0);
        assertEquals(2, ((Stage.RouteRule.Confidence) sure.rule()).tokensOrDefault());
        assertEquals("route(rule confidence)", CompositionJson.describe(sure));
    }

    @Test
    void mistakesAreNamed() {
        assertMessage("route: rule 'nearest' is not one of [rule, similarity, confidence]",
                "[{\"stage\": \"route\", \"rule\": \"nearest\"}, \"sample\"]");
        assertMessage("route: when '(+' is not a regular expression",
                "[{\"stage\": \"route\", \"rule\": \"rule\", \"cases\": [{\"when\": \"(+\", \"models\": [\"a\"]}]}, \"sample\"]");
        assertMessage("unknown key 'pick' in route (rule)",
                "[{\"stage\": \"route\", \"rule\": \"rule\", \"pick\": 1, \"cases\": [{\"models\": [\"a\"]}]}, \"sample\"]");
        assertMessage("unknown key 'tokens' in route (similarity)",
                "[{\"stage\": \"route\", \"rule\": \"similarity\", \"tokens\": 2, \"examples\": {\"a\": [\"1+1=\"]}}, \"sample\"]");
        assertMessage("unknown key 'if' in a route case",
                "[{\"stage\": \"route\", \"rule\": \"rule\", \"cases\": [{\"if\": \"x\", \"models\": [\"a\"]}]}, \"sample\"]");
        assertMessage("route: only the last case may omit when",
                "[{\"stage\": \"route\", \"rule\": \"rule\", \"cases\": [{\"models\": [\"a\"]}, {\"when\": \"-\", \"models\": [\"b\"]}]}, \"sample\"]");
        assertMessage("route: generator a has no examples",
                "[{\"stage\": \"route\", \"rule\": \"similarity\", \"examples\": {\"a\": []}}, \"sample\"]");
        assertMessage("route needs a rule", "[{\"stage\": \"route\"}, \"sample\"]");
        assertMessage("route: tokens must be >= 1",
                "[{\"stage\": \"route\", \"rule\": \"confidence\", \"tokens\": 0}, \"sample\"]");
        assertMessage("route: pick must be >= 1",
                "[{\"stage\": \"route\", \"rule\": \"confidence\", \"pick\": 0}, \"sample\"]");
        assertMessage("composition custom: route must come before every sample and mix stage",
                "[\"sample\", {\"stage\": \"route\", \"rule\": \"confidence\"}, \"vote\"]");
        assertMessage("composition custom: route must come before every sample and mix stage",
                "[\"mix\", {\"stage\": \"route\", \"rule\": \"confidence\"}, \"sample\"]");
        assertMessage("composition custom: route: a composition routes once",
                "[{\"stage\": \"route\", \"rule\": \"confidence\"}, {\"stage\": \"route\", \"rule\": \"confidence\"}, \"sample\"]");
        assertMessage("composition custom never produces an answer",
                "[{\"stage\": \"route\", \"rule\": \"confidence\"}]");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Stage.Route(BY_OPERATION, 2));
        assertTrue(e.getMessage().startsWith("route: pick applies to similarity and confidence"), e.getMessage());
    }

    private static void assertMessage(String start, String json) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CompositionJson.parse(json));
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
    }

    // ---- on the arith answerers (skipped when ../shared is absent) ----

    @Test
    void aRuleSendsTheRequestToTheNamedGeneratorOnly() {
        Composition routed = Composition.builder("routed").route(BY_OPERATION).sample().vote().build();
        try (Blender blender = ArithBlenders.full().candidatesPerModel(3).build()) {
            BlendResult add = blender.blend(BlendRequest.builder().prompt("17+62=").seed(1).composition(routed).build());
            assertEquals(List.of("answerer-a.gguf"), add.routed());
            assertEquals(3, add.candidates().size(), "one generator's candidates, not both: " + add.candidates());
            assertTrue(add.candidates().stream().allMatch(s -> s.model().equals("answerer-a.gguf")), add.candidates().toString());
            assertTrue(add.usage().stages().stream().noneMatch(u -> u.stage().equals("routing")), "a rule decodes nothing");
            // run --json and the server's blender object say where the request went
            var json = BlendResultJson.putDetails(JsonNodeFactory.instance.objectNode(), add, true);
            assertEquals("[\"answerer-a.gguf\"]", json.get("routed").toString());

            // the answer sampler is greedy by default: one answer per routed generator unless perModel says more
            BlendResult greedy = blender.blend(BlendRequest.builder().prompt("17+62=").composition(Composition.builder("greedy")
                    .route(BY_OPERATION).stage(new Stage.Sample(List.of(), null, false, Stage.Sampler.ANSWER, null))
                    .build()).build());
            assertEquals(List.of("answerer-a.gguf"), greedy.candidates().stream().map(BlendResult.Sampled::model).toList());

            BlendResult sub = blender.blend(BlendRequest.builder().prompt("77-67=").seed(1).composition(routed).build());
            assertEquals(List.of("answerer-b.gguf"), sub.routed());
            assertTrue(sub.candidates().stream().allMatch(s -> s.model().equals("answerer-b.gguf")));

            // a sample stage that names its models samples them whatever the route chose
            Composition named = Composition.builder("named").route(BY_OPERATION)
                    .stage(Stage.Sample.answer("answerer-b")).build();
            BlendResult b = blender.blend(BlendRequest.builder().prompt("17+62=").composition(named).build());
            assertEquals(List.of("answerer-b.gguf"), b.candidates().stream().map(BlendResult.Sampled::model).toList());

            // no case applies: every generator, and nothing reported as routed
            Composition none = Composition.builder("none").route(new Stage.RouteRule.Cases(List.of(
                    new Stage.RouteCase("\\*", List.of("answerer-a"))))).sampleAnswers().build();
            BlendResult all = blender.blend(BlendRequest.builder().prompt("17+62=").composition(none).build());
            assertEquals(List.of(), all.routed());
            assertTrue(!BlendResultJson.putDetails(JsonNodeFactory.instance.objectNode(), all, true).has("routed"),
                    "no route chose: no routed field");
            assertEquals(List.of("answerer-a.gguf", "answerer-b.gguf"),
                    all.candidates().stream().map(BlendResult.Sampled::model).toList());
        }
    }

    @Test
    void aMixAfterOneRoutedGeneratorIsItsGreedyAnswer() {
        Composition mixed = Composition.builder("mixed").route(BY_OPERATION).mix(null).build();
        try (Blender blender = ArithBlenders.full().build()) {
            BlendResult routed = blender.blend(BlendRequest.builder().prompt("17+62=").composition(mixed).build());
            BlendResult alone = blender.blend(BlendRequest.builder().prompt("17+62=").composition(Composition.named("member:answerer-a")).build());
            assertEquals(alone.answer(), routed.answer());
            assertEquals(List.of(), routed.candidates(), "a mix's answer is not a candidate");
        }
    }

    @Test
    void similarityRoutesAnAdditionToTheGeneratorWhoseExamplesAreAdditions() {
        Composition similar = Composition.builder("similar").route(BY_EXAMPLES).sampleAnswers().build();
        try (Blender blender = ArithBlenders.full().build()) {
            BlendResult add = blender.blend(BlendRequest.builder().prompt("17+62=").composition(similar).build());
            assertEquals(List.of("answerer-a.gguf"), add.routed());
            assertEquals(List.of("answerer-a.gguf"), add.candidates().stream().map(BlendResult.Sampled::model).toList());
            BlendResult sub = blender.blend(BlendRequest.builder().prompt("84-27=").composition(similar).build());
            assertEquals(List.of("answerer-b.gguf"), sub.routed());
            Composition both = Composition.builder("both").route(BY_EXAMPLES, 2).sampleAnswers().build();
            assertEquals(List.of("answerer-a.gguf", "answerer-b.gguf"),
                    blender.blend(BlendRequest.builder().prompt("17+62=").composition(both).build()).routed(), "best first");
        }
    }

    @Test
    void confidenceRoutingPicksOneGeneratorAndCountsItsTokens() {
        Composition sure = Composition.builder("sure").route(new Stage.RouteRule.Confidence(null)).sampleAnswers()
                .build();
        try (Blender blender = ArithBlenders.full().build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("17+62=").composition(sure).build());
            assertEquals(1, r.routed().size(), r.routed().toString());
            assertEquals(r.routed(), r.candidates().stream().map(BlendResult.Sampled::model).toList());
            BlendResult.StageUsage routing = r.usage().stages().stream().filter(u -> u.stage().equals("routing"))
                    .findFirst().orElseThrow(() -> new AssertionError("no routing usage: " + r.usage()));
            assertTrue(routing.promptTokens() > 0, routing.toString());
            assertTrue(routing.generatedTokens() > 0 && routing.generatedTokens() <= 4,
                    "two generators, at most two tokens each: " + routing);
            assertEquals(r.usage().stages().get(0).stage(), "routing", "routing runs first");
        }
    }
}
