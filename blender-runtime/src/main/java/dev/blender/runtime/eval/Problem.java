package dev.blender.runtime.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A question with its gold answer, as in {@code shared/data/arith/dev.jsonl}. */
public record Problem(String question, String answer) {

    /**
     * Reads JSON lines {@code {"question": ..., "answer": ...}}; a line that is not such an object is an
     * error naming the file and line.
     */
    public static List<Problem> readJsonl(Path file, int limit) {
        ObjectMapper json = new ObjectMapper();
        List<Problem> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null && out.size() < limit) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(file + ":" + number + ": not JSON: " + e.getOriginalMessage());
                }
                JsonNode q = node.get("question");
                JsonNode a = node.get("answer");
                if (q == null || !q.isTextual() || a == null || a.isNull()) {
                    throw new IllegalArgumentException(file + ":" + number
                            + ": expected {\"question\": string, \"answer\": ...}");
                }
                out.add(new Problem(q.asText(), a.isTextual() ? a.asText() : a.toString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read problems from " + file, e);
        }
        return out;
    }
}
