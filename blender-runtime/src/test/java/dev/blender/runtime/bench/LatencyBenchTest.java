package dev.blender.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Strategy;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class LatencyBenchTest {

    @Test
    void nearestRankPercentiles() {
        double[] oneToTwenty = IntStream.rangeClosed(1, 20).asDoubleStream().toArray();
        assertEquals(10, LatencyBench.percentile(oneToTwenty, 50));
        assertEquals(19, LatencyBench.percentile(oneToTwenty, 95));
        assertEquals(20, LatencyBench.percentile(oneToTwenty, 100));
        assertEquals(1, LatencyBench.percentile(oneToTwenty, 1));
        assertEquals(2, LatencyBench.percentile(oneToTwenty, 5.01), "just over one sample's share takes the next one");

        double[] one = {42};
        assertEquals(42, LatencyBench.percentile(one, 50));
        assertEquals(42, LatencyBench.percentile(one, 95));

        double[] odd = {1, 2, 3, 4, 5};
        assertEquals(3, LatencyBench.percentile(odd, 50));
        assertEquals(5, LatencyBench.percentile(odd, 95));
        double[] even = {1, 2, 3, 4};
        assertEquals(2, LatencyBench.percentile(even, 50), "nearest rank never interpolates");

        assertThrows(IllegalArgumentException.class, () -> LatencyBench.percentile(new double[0], 50));
        assertThrows(IllegalArgumentException.class, () -> LatencyBench.percentile(one, 0));
        assertThrows(IllegalArgumentException.class, () -> LatencyBench.percentile(one, 101));

        LatencyBench.Stats s = LatencyBench.Stats.of(List.of(3.0, 1.0, 2.0, 10.0));
        assertEquals(2.0, s.p50());
        assertEquals(10.0, s.p95());
        assertEquals(4.0, s.mean(), 1e-12);
        assertNull(LatencyBench.Stats.of(List.of()).p50());
    }

    @Test
    void badSettingsNameTheSetting() {
        assertEquals("runs must be >= 1, was 0",
                assertThrows(IllegalArgumentException.class, () -> LatencyBench.builder().runs(0)).getMessage());
        assertEquals("warmup must be >= 0, was -1",
                assertThrows(IllegalArgumentException.class, () -> LatencyBench.builder().warmup(-1)).getMessage());
        List<Composition> single = List.of(Strategy.SINGLE.composition());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> LatencyBench.builder().compositions(single).build()).getMessage().startsWith("prompts"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> LatencyBench.builder().prompts(List.of("1+1=")).build()).getMessage().startsWith("compositions"));
        Composition mine = Composition.builder("single").sample().vote().build();
        assertEquals("compositions: two are named single", assertThrows(IllegalArgumentException.class,
                () -> LatencyBench.builder().prompts(List.of("1+1=")).compositions(List.of(single.get(0), mine)).build())
                .getMessage());
    }

    @Test
    void interleavesCompositionsAndComparesThemWithSingle() {
        try (Blender blender = ArithBlenders.full().build()) {
            assertEquals(List.of(Strategy.values()).stream().map(s -> s.composition().name()).toList(),
                    LatencyBench.supportedStrategies(blender.config()).stream().map(Composition::name).toList(),
                    "two generators run every strategy");
            List<String> order = new ArrayList<>();
            List<Integer> warmUps = new ArrayList<>();
            LatencyBench bench = LatencyBench.builder()
                    .compositions(List.of(Strategy.SINGLE.composition(), Strategy.FULL_BLEND.composition()))
                    .prompts(List.of("17+62=", "8+5=")).runs(2).warmup(1).seed(7)
                    .listener(new LatencyBench.Listener() {
                        @Override
                        public void warmedUp(int done, int total, LatencyBench.Sample s) {
                            assertEquals(2, total);
                            assertEquals(-1, s.run());
                            assertEquals(7 + 2, s.seed(), "warm-ups use the seeds after the measured ones");
                            warmUps.add(done);
                        }

                        @Override
                        public void measuring(int total) {
                            assertEquals(List.of(1, 2), warmUps, "after the warm-ups");
                            assertEquals(8, total);
                            order.add("measuring");
                        }

                        @Override
                        public void measured(int done, int total, LatencyBench.Sample s) {
                            assertEquals(8, total);
                            assertEquals(order.size(), done, "counted from 1, after \"measuring\"");
                            assertEquals(7 + s.run(), s.seed(), "run r samples with seed + r");
                            order.add(s.run() + "/" + s.prompt() + " " + s.composition());
                        }
                    }).build();

            LatencyBench.Report report = bench.run(blender);

            assertEquals(List.of(1, 2), warmUps);
            // who goes first rotates from prompt to prompt
            assertEquals(List.of("measuring", "0/0 single", "0/0 full-blend", "0/1 full-blend", "0/1 single",
                    "1/0 single", "1/0 full-blend", "1/1 full-blend", "1/1 single"), order);
            assertEquals(2, report.runs());
            assertEquals(1, report.warmup());
            assertEquals(2, report.prompts());
            assertEquals(2, report.results().size());
            LatencyBench.Result single = report.results().get(0);
            LatencyBench.Result full = report.results().get(1);
            assertEquals("single", single.composition().name());
            assertEquals(single, report.baseline().orElseThrow());
            for (LatencyBench.Result r : report.results()) {
                assertEquals(4, r.samples().size(), r.toString());
                assertEquals(4, r.summary().requests());
                assertEquals(r.composition().name(), r.summary().composition());
                assertTrue(r.samples().stream().allMatch(s -> s.composition().equals(r.composition().name())));
            }
            assertEquals(1.0, single.summary().p50VsSingle(), 1e-12);
            assertEquals(full.summary().total().p50() / single.summary().total().p50(), full.summary().p50VsSingle(),
                    1e-12);
            assertTrue(full.samples().stream().allMatch(s -> s.timings().rankingMillis() > 0), "full-blend asks the judge");
            // the JSON a library user writes says the same, in the order run
            var json = report.toJson();
            assertEquals(2, json.get("runs").asInt());
            assertEquals("full-blend", json.get("strategies").get(1).get("strategy").asText());
            assertEquals(full.summary().total().p50(), json.get("strategies").get(1).get("total_ms").get("p50").asDouble());
            assertEquals(full.summary().p50VsSingle(), json.get("strategies").get(1).get("p50_vs_single").asDouble(),
                    1e-12);
            if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/self/status"))) {
                assertTrue(report.peakRssKib().getAsLong() >= report.currentRssKib().getAsLong(), report.toString());
            }
        }
    }

    @Test
    void withoutSingleThereIsNoRatio() {
        try (Blender blender = ArithBlenders.full().build()) {
            LatencyBench.Report report = LatencyBench.builder().compositions(List.of(Composition.named("majority")))
                    .prompts(List.of("17+62=")).build().run(blender);
            assertTrue(report.baseline().isEmpty());
            assertNull(report.results().get(0).summary().p50VsSingle());
            assertTrue(report.toJson().get("strategies").get(0).get("p50_vs_single").isNull());
            assertEquals(1, report.results().get(0).samples().size());
        }
    }

    @Test
    void refusesWhatTheConfigurationCannotRun() {
        try (Blender blender = ArithBlenders.full().build()) {
            LatencyBench bench = LatencyBench.builder().compositions(List.of(Composition.named("member:nobody")))
                    .prompts(List.of("17+62=")).build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bench.run(blender));
            assertTrue(e.getMessage().contains("member:nobody"), e.getMessage());
        }
    }
}
