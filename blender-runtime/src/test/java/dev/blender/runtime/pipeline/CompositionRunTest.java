package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.pairranker.Aggregation;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Stages that only compositions reach: verify, refine, gates, consensus, shared work. */
class CompositionRunTest {

    static Composition fuseTop3(String name) {
        return Composition.builder(name).sample().rank(Aggregation.MAX_LOGITS, 3).fuse(3).build();
    }

    @Test
    void verifyKeepsTheTopCandidateWhenTheJudgePrefersItToTheFusion() {
        Composition verified = Composition.builder("verified").sample().rank(Aggregation.MAX_LOGITS, 3).fuse(3).verify()
                .build();
        try (Blender blender = ArithBlenders.full().build()) {
            SharedWork work = new SharedWork();
            java.util.function.Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt("17+62=").seed(1).sharedWork(work).composition(c).build();
            BlendResult fused = blender.blend(request.apply(fuseTop3("fused")));
            StringBuilder streamed = new StringBuilder();
            BlendResult checked = blender.blend(request.apply(verified), new BlendListener() {
                @Override
                public void onAnswer(String text) {
                    streamed.append(text);
                }
            });
            // the example: the judge ranks 79 first, the fuser writes 80, verification keeps 79
            assertEquals("79", fused.ranked().get(0).text());
            assertEquals("80", fused.answer());
            assertEquals("80", checked.fused().text().strip(), "the same inputs fuse to the same text");
            assertEquals("79", checked.answer());
            assertEquals("79", streamed.toString(), "a later stage could change the answer: sent once, at the end");
            long judged = fused.usage().stages().stream().filter(s -> s.stage().equals("ranking")).findFirst()
                    .orElseThrow().promptTokens();
            long judgedAndVerified = checked.usage().stages().stream().filter(s -> s.stage().equals("ranking"))
                    .findFirst().orElseThrow().promptTokens();
            assertTrue(judgedAndVerified > judged, "verification is a judge call of its own: " + checked.usage());
        }
    }

    @Test
    void anAgreementGateStopsWhenCandidatesAgreeAndEscalatesWhenTheyDoNot() {
        try (Blender blender = ArithBlenders.full().build()) {
            java.util.function.Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt("17+62=").seed(1).composition(c).build();
            Composition never = Composition.builder("never").sample().vote().gate(Stage.GateRule.AGREEMENT, 0.0).fuse(3)
                    .build();
            BlendResult stopped = blender.blend(request.apply(never));
            assertFalse(stopped.escalated());
            assertNull(stopped.fused(), "the gate ended the blend before fusion");
            assertEquals(stopped.ranked().get(0).text(), stopped.answer(), "the vote's winner answers");
            assertEquals(List.of("sampling"), stopped.usage().stages().stream().map(BlendResult.StageUsage::stage).toList());

            Composition always = Composition.builder("always").sample().vote().gate(Stage.GateRule.AGREEMENT, 1.0).fuse(3)
                    .build();
            BlendResult escalated = blender.blend(request.apply(always));
            assertTrue(stopped.ranked().size() > 1, "seed 1 samples several answers, so they do not all agree");
            assertTrue(escalated.escalated());
            assertNotNull(escalated.fused());
        }
    }

    @Test
    void refineFusesAgainWithTheAnswerFirstUntilItRepeats() {
        try (Blender blender = ArithBlenders.full().build()) {
            SharedWork work = new SharedWork();
            java.util.function.Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt("58+27=").seed(2).sharedWork(work).composition(c).build();
            BlendResult once = blender.blend(request.apply(fuseTop3("once")));
            Composition twice = Composition.builder("refined").sample().rank(Aggregation.MAX_LOGITS, 3).fuse(3).refine(3)
                    .build();
            BlendResult refined = blender.blend(request.apply(twice));
            long fusionOnce = once.usage().stages().stream().filter(s -> s.stage().equals("fusion")).findFirst()
                    .orElseThrow().generatedTokens();
            long fusionRefined = refined.usage().stages().stream().filter(s -> s.stage().equals("fusion")).findFirst()
                    .orElseThrow().generatedTokens();
            assertTrue(fusionRefined > fusionOnce, "at least one more fusion ran");
            assertTrue(fusionRefined <= 4 * fusionOnce + 4, "at most three more: " + refined.usage());
            assertEquals(refined.fused().text().strip(), refined.answer());
        }
    }

    @Test
    void sharedWorkHandsTheSameCandidatesToEveryCompositionAndChargesEachItsCost() {
        try (Blender blender = ArithBlenders.full().build()) {
            SharedWork work = new SharedWork();
            java.util.function.Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt("37+48=").seed(5).sharedWork(work).composition(c).build();
            BlendResult maxLogits = blender.blend(request.apply(Composition.named("rank:maxlogits")));
            BlendResult maxWins = blender.blend(request.apply(Composition.named("rank:maxwins")));
            assertEquals(8, maxWins.candidates().size());
            for (int i = 0; i < 8; i++) {
                assertEquals(maxLogits.candidates().get(i).candidate(), maxWins.candidates().get(i).candidate(),
                        "sampled once, reused");
            }
            assertEquals(maxLogits.usage(), maxWins.usage(), "the same pairs judged: the same charge, though"
                    + " the second judged nothing itself");
            // without shared work the same request samples the same candidates afresh
            BlendResult alone = blender.blend(BlendRequest.builder().prompt("37+48=").seed(5)
                    .composition(Composition.named("rank:maxlogits")).build());
            assertEquals(maxLogits.candidates().stream().map(c -> c.candidate().text()).toList(),
                    alone.candidates().stream().map(c -> c.candidate().text()).toList());
            assertEquals(maxLogits.answer(), alone.answer());
        }
    }

    @Test
    void consensusRanksWithoutAJudgeAndRankWithoutOneFallsBackToAVote() {
        try (Blender noJudge = Blender.builder().generator(ArithBlenders.arith("answerer-a"))
                .generator(ArithBlenders.arith("answerer-b")).contextSize(64).maxTokens(8)
                .generatorPrompt("Q: {prompt} A:").strategy(Strategy.FULL_BLEND).build()) {
            BlendResult consensus = noJudge.blend(BlendRequest.builder().prompt("37+48=").seed(3)
                    .composition(Composition.named("rank:embedding")).build());
            assertEquals("consensus", consensus.orderedBy());
            List<Double> scores = consensus.ranked().stream().map(BlendResult.Ranked::score).toList();
            for (int i = 1; i < scores.size(); i++) {
                assertTrue(scores.get(i - 1) >= scores.get(i), "best first: " + consensus.ranked());
            }
            BlendResult voted = noJudge.blend(BlendRequest.builder().prompt("37+48=").seed(3).build());
            assertEquals("votes", voted.orderedBy(), "no judge or reranker: full-blend's rank stage votes");
            assertNull(voted.fused(), "no fuser: the fuse stage passes");
            for (int i = 1; i < voted.ranked().size(); i++) {
                assertTrue(voted.ranked().get(i - 1).votes() >= voted.ranked().get(i).votes(), voted.ranked().toString());
            }
        }
    }

    @Test
    void rankingAmongTheMostVotedJudgesOnlyThoseAndKeepsTheRestInVoteOrder() {
        try (Blender blender = ArithBlenders.full().build()) {
            SharedWork work = new SharedWork();
            java.util.function.Function<Composition, BlendRequest> request = c -> BlendRequest.builder().prompt("17+62=").seed(1).sharedWork(work).composition(c).build();
            BlendResult voted = blender.blend(request.apply(Composition.named("majority")));
            Composition among2 = Composition.builder("among2").sample().vote()
                    .stage(new Stage.Rank(Aggregation.MAX_LOGITS, 1, Stage.Ranker.JUDGE, 2)).build();
            BlendResult judged = blender.blend(request.apply(among2));
            BlendResult all = blender.blend(request.apply(Composition.builder("all").sample().vote()
                    .rank(Aggregation.MAX_LOGITS, 1).build()));
            List<String> byVotes = voted.ranked().stream().map(BlendResult.Ranked::text).toList();
            List<String> byJudge = judged.ranked().stream().map(BlendResult.Ranked::text).toList();
            assertTrue(byVotes.size() > 2, "seed 1 samples more than two answers: " + byVotes);
            assertEquals(java.util.Set.copyOf(byVotes.subList(0, 2)), java.util.Set.copyOf(byJudge.subList(0, 2)));
            assertEquals(byVotes.subList(2, byVotes.size()), byJudge.subList(2, byJudge.size()), "the rest keep their order");
            assertNull(judged.ranked().get(2).score(), "texts outside the ranked ones have no score");
            assertTrue(ranking(judged) < ranking(all), "two texts are one pair, fewer than all of them: "
                    + judged.usage() + " vs " + all.usage());
        }
    }

    private static long ranking(BlendResult r) {
        return r.usage().stages().stream().filter(s -> s.stage().equals("ranking")).mapToLong(BlendResult.StageUsage::totalTokens)
                .sum();
    }

    @Test
    void compositionsNamingModelsTheBlenderLacksAreRefused() {
        try (Blender blender = ArithBlenders.full().build()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> blender.blend(
                    BlendRequest.builder().prompt("1+1=").composition(Composition.named("member:answerer-z")).build()));
            assertTrue(e.getMessage().contains("answerer-z") && e.getMessage().contains("answerer-a"), e.getMessage());
            BlendResult b = blender.blend(BlendRequest.builder().prompt("17+62=").composition(Composition.named("member:answerer-b")).build());
            assertEquals(List.of("answerer-b.gguf"), b.candidates().stream().map(BlendResult.Sampled::model).toList());
            assertNotEquals("", b.answer());
        }
    }
}
