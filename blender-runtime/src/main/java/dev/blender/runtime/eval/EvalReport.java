package dev.blender.runtime.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.pipeline.BlendResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Rows of an evaluation ({@link Evaluation}, {@link MixEvaluation}) as a table and as JSON, the one
 * format of {@code blender eval} and {@code blender blend}: method, accuracy with its 95% Wilson interval,
 * tokens and milliseconds per problem, and the accuracy of each group where there are groups.
 *
 * @param problems how many problems each row answered
 * @param skipped  how many problems of the file came before them
 * @param file     where the problems came from
 */
public record EvalReport(List<Evaluation.Row> rows, int problems, int skipped, Path file) {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    public EvalReport {
        rows = List.copyOf(rows);
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("a report needs at least one row");
        }
    }

    /** A header line and a line per row; the method column as wide as the longest name, a column per group. */
    public List<String> table() {
        int width = Math.max(18, rows.stream().mapToInt(r -> r.method().length()).max().orElse(0));
        StringBuilder header = new StringBuilder(String.format("%-" + width + "s %9s %17s %16s %12s", "method",
                "accuracy", "95% CI", "tokens/problem", "ms/problem"));
        // a group's column is as wide as its heading: the name and how many problems are in it
        List<String> groupHeadings = new ArrayList<>();
        rows.get(0).groups().forEach((g, a) -> groupHeadings.add(g + " (" + a.total() + ")"));
        groupHeadings.forEach(h -> header.append(String.format(" %" + Math.max(9, h.length()) + "s", h)));
        List<String> lines = new ArrayList<>();
        lines.add(header.toString());
        for (Evaluation.Row r : rows) {
            Accuracy a = r.accuracy();
            double[] ci = a.wilson95();
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                    "%-" + width + "s %9.3f %8.3f - %-6.3f %16.1f %12.2f", r.method(), a.value(), ci[0], ci[1],
                    r.tokensPerProblem(), r.millisPerProblem()));
            int g = 0;
            for (Accuracy ga : r.groups().values()) {
                line.append(String.format(Locale.ROOT, " %" + Math.max(9, groupHeadings.get(g++).length()) + ".3f",
                        ga.value()));
            }
            lines.add(line.toString());
        }
        return lines;
    }

    /**
     * {@code {"problems", "skipped", "file", "methods": [{"method", "accuracy", "ci95", "tokens_per_problem",
     * "ms_per_problem", "groups": {NAME: {"accuracy", "problems"}}}]}}, {@code groups} only where there are groups.
     */
    public ObjectNode toJson() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("problems", problems);
        root.put("skipped", skipped);
        root.put("file", file.toString());
        ArrayNode methods = root.putArray("methods");
        for (Evaluation.Row r : rows) {
            Accuracy a = r.accuracy();
            double[] ci = a.wilson95();
            ObjectNode o = methods.addObject();
            o.put("method", r.method());
            o.put("accuracy", a.value());
            o.putArray("ci95").add(ci[0]).add(ci[1]);
            o.put("tokens_per_problem", r.tokensPerProblem());
            o.put("ms_per_problem", r.millisPerProblem());
            if (!r.groups().isEmpty()) {
                ObjectNode groups = o.putObject("groups");
                r.groups().forEach((name, ga) -> groups.putObject(name).put("accuracy", ga.value())
                        .put("problems", ga.total()));
            }
        }
        return root;
    }

    /**
     * One row's answer to one problem as a JSON line, for error analysis ({@code blender eval --answers}):
     * {@code {"problem", "question", "gold", "method", "answer", "right", "ranked": [{"text", "votes"}], "fused"}},
     * {@code fused} only where a fuser wrote.
     *
     * @param problem the problem's position in its file, counting from 0
     */
    public static String answerLine(int problem, Problem p, String method, BlendResult r, boolean right) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("problem", problem);
        o.put("question", p.question());
        p.answers().forEach(o.putArray("gold")::add);
        o.put("method", method);
        o.put("answer", r.answer());
        o.put("right", right);
        ArrayNode ranked = o.putArray("ranked");
        r.ranked().forEach(x -> ranked.addObject().put("text", x.text()).put("votes", x.votes()));
        if (r.fused() != null) {
            o.put("fused", r.fused().text().strip());
        }
        try {
            return MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of strings and numbers always writes", e);
        }
    }
}
