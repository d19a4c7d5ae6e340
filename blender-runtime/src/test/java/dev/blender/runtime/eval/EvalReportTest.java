package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvalReportTest {

    @Test
    void rowsAsJsonAndAsATableWithAColumnPerGroup() {
        Map<String, Accuracy> groups = new LinkedHashMap<>();
        groups.put("+", new Accuracy(3, 4));
        groups.put("-", new Accuracy(2, 4));
        EvalReport report = new EvalReport(List.of(new Evaluation.Row("member:a", 5, 8, 80, 16.0, groups),
                new Evaluation.Row("a-composition-with-a-long-name", 8, 8, 120, 4.0, groups)), 8, 2, Path.of("dev.jsonl"));

        JsonNode json = report.toJson();
        assertEquals(8, json.get("problems").asInt());
        assertEquals(2, json.get("skipped").asInt());
        JsonNode a = json.get("methods").get(0);
        assertEquals("member:a", a.get("method").asText());
        assertEquals(0.625, a.get("accuracy").asDouble(), 1e-12);
        // the 95% Wilson score interval of 5 of 8, worked out by hand: 0.3057 .. 0.8632
        assertEquals(0.3057, a.get("ci95").get(0).asDouble(), 1e-4);
        assertEquals(0.8632, a.get("ci95").get(1).asDouble(), 1e-4);
        assertEquals(10.0, a.get("tokens_per_problem").asDouble(), 1e-12);
        assertEquals(2.0, a.get("ms_per_problem").asDouble(), 1e-12);
        assertEquals(0.75, a.get("groups").get("+").get("accuracy").asDouble(), 1e-12);
        assertEquals(4, a.get("groups").get("-").get("problems").asInt());

        List<String> table = report.table();
        assertEquals(3, table.size());
        assertEquals(table.get(0).length(), table.get(1).length(), "columns line up:\n" + String.join("\n", table));
        assertEquals(table.get(0).length(), table.get(2).length(), "the longest name widens its column");
        assertEquals(List.of("member:a", "0.625", "0.306", "-", "0.863", "10.0", "2.00", "0.750", "0.500"),
                List.of(table.get(1).trim().split("\\s+")));
        assertFalse(new EvalReport(List.of(new Evaluation.Row("x", 0, 1, 0, 0, Map.of())), 1, 0, Path.of("p"))
                .toJson().get("methods").get(0).has("groups"), "no groups, no groups field");
    }
}
