package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code --strategies} of bench and eval: several compositions in one flag. */
class CompositionListTest {

    @Test
    void strategiesSplitAtCommasOutsideJson() {
        assertEquals(List.of("single", " full-blend"), CompositionJson.splitTopLevel("single, full-blend"));
        String json = "{\"name\": \"mine\", \"stages\": [\"sample\", {\"stage\": \"rank\", \"topK\": 1}]}";
        assertEquals(List.of("single", json, "mine.json"), CompositionJson.splitTopLevel("single," + json + ",mine.json"));
        assertEquals(List.of("[\"sample\", \"vote\"]", "x"), CompositionJson.splitTopLevel("[\"sample\", \"vote\"],x"));
        assertEquals(List.of("{\"name\": \"a,}\", \"stages\": [\"sample\"]}"),
                CompositionJson.splitTopLevel("{\"name\": \"a,}\", \"stages\": [\"sample\"]}"), "commas in strings stay");
    }

    @Test
    void eachValueMayHoldSeveralAndTheFirstOfEqualOnesIsKept() {
        List<Composition> parsed = CompositionJson.parseList(List.of("SINGLE, majority",
                "{\"name\": \"voted\", \"stages\": [\"sample\", \"vote\"]},single", ""));
        assertEquals(List.of("single", "majority", "voted"), parsed.stream().map(Composition::name).toList());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CompositionJson.parseList(List.of("single,nope")));
        assertEquals("unknown strategy 'nope'", e.getMessage().substring(0, "unknown strategy 'nope'".length()));
    }
}
