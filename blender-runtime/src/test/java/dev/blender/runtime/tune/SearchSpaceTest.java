package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Stage;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class SearchSpaceTest {
    @Test
    void eachBaseAtTheConfiguredSettingsThenOneSettingChangedAtATime() {
        BlenderConfig config = ArithBlenders.full().candidatesPerModel(4).buildConfig(); // temperature 0.8
        SearchSpace space = SearchSpace.around(config);
        assertEquals(List.of(2, 4), space.samples());
        assertEquals(List.of(0.2f, 0.8f), space.temperatures());
        List<Composition> search = space.compositions(List.of(Composition.named("member:answerer-a"),
                Composition.named("fuse:top3"), Composition.named("cascade:mix3")), config);
        Map<String, Composition> byName = search.stream().collect(Collectors.toMap(Composition::name, Function.identity()));
        assertEquals(search.size(), byName.size(), "names are unique");
        assertEquals(search.size(), new HashSet<>(search.stream().map(Composition::stages).toList()).size(),
                "no composition twice");
        assertEquals(List.of(Stage.Sample.answer("answerer-a")), byName.get("member:answerer-a").stages(),
                "a member samples nothing to vary");
        assertEquals(1, search.stream().filter(c -> c.name().startsWith("member:")).count());
        // the base pins the configured sampling, so its file runs alike on any configuration
        Stage.Sample pinned = (Stage.Sample) byName.get("fuse:top3").stages().get(0);
        assertEquals(4, pinned.perModel());
        assertEquals(0.8f, pinned.temperature());
        assertEquals(List.of("fuse:top3 n2 t0.2", "fuse:top3 n2 t0.8", "fuse:top3 n4 t0.2"), search.stream()
                .map(Composition::name).filter(n -> n.startsWith("fuse:top3 n")).toList());
        Stage.Sample cold = (Stage.Sample) byName.get("fuse:top3 n2 t0.2").stages().get(0);
        assertEquals(2, cold.perModel());
        assertEquals(0.2f, cold.temperature());
        // fusing 3 already: k3 is the base
        assertFalse(byName.containsKey("fuse:top3 k3"));
        Composition k4 = byName.get("fuse:top3 k4");
        assertEquals(new Stage.Fuse(4, Stage.FuseInputs.TOP), k4.stages().get(2));
        assertEquals(4, ((Stage.Rank) k4.stages().get(1)).topK(), "the rank orders exactly what is fused");
        assertEquals(3, ((Stage.Fuse) byName.get("fuse:top3 orders3").stages().get(2)).orders());
        Composition among = byName.get("fuse:top3 among2");
        assertEquals(List.of("sample", "vote", "rank", "fuse"), among.stages().stream().map(Stage::id).toList());
        assertEquals(2, ((Stage.Rank) among.stages().get(2)).among());
        // cascade:mix3 gates on 0.5 already; agreement before sampling is unreadable and left out
        assertFalse(byName.containsKey("cascade:mix3 p0.5"));
        assertEquals(new Stage.Gate(Stage.GateRule.TOKEN_PROBABILITY, 0.9), byName.get("cascade:mix3 p0.9").stages().get(1));
        assertTrue(search.stream().noneMatch(c -> c.name().contains("agree")));
        assertFalse(byName.containsKey("cascade:mix3 among2"), "no judge rank to weight");
    }

    @Test
    void theDefaultBasesAreTheMembersAndTheBuiltInsTheModelsAllow() {
        BlenderConfig withoutFuser = dev.blender.runtime.pipeline.Blender.builder()
                .generator(ArithBlenders.arith("answerer-a")).generator(ArithBlenders.arith("answerer-b"))
                .contextSize(64).maxTokens(8).buildConfig();
        List<String> names = SearchSpace.bases(withoutFuser).stream().map(Composition::name).toList();
        assertEquals(List.of("member:answerer-a", "member:answerer-b"), names.subList(0, 2));
        assertTrue(names.contains("majority") && names.contains("token:loglinear"), names.toString());
        assertFalse(names.contains("fuse:top3") || names.contains("single") || names.contains("rank:bubble"),
                names.toString());
    }

    @Test
    void badSettingsNameTheList() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SearchSpace(List.of(0),
                List.of(0.8f), List.of(3), List.of(1), List.of(0.5), List.of(2)));
        assertTrue(e.getMessage().contains("samples"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SearchSpace(List.of(2), List.of(0.8f), List.of(3),
                List.of(1), List.of(1.5), List.of(2)));
        assertThrows(IllegalArgumentException.class, () -> new SearchSpace(List.of(2), List.of(0.8f), List.of(3),
                List.of(1), List.of(0.5), List.of(1)));
    }
}
