package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PerplexityTest {

    @Test
    void piecesEndAtSentencesWithinTheirSizeAndTheBudget() {
        String text = "One two. Three four five.\n\nSix seven! A sentence far too long to fit any piece at all here.\n\n"
                + "Last one.";
        assertEquals(List.of("One two.", "Three four five.", "Six seven!", "Last one."), Perplexity.pieces(text, 16, 1000));
        assertEquals(List.of("One two. Three four five."), Perplexity.pieces(text, 40, 1), "stops after the paragraph"
                + " that reaches the budget");
        assertEquals("Six seven! A sentence far too long to fit any piece at all here.\n\nLast one.",
                Perplexity.skip(text, 3), "whole paragraphs are skipped");
        assertEquals(text, Perplexity.skip(text, 0));
    }

    @Test
    void aModelMixedWithItselfScoresAsItDoesAlone() throws Exception {
        Path stories = TestModels.sharedFile("models/stories260K.gguf");
        String text = Files.readString(TestModels.sharedFile("data/tinystories/tinystories_val_dev.txt"),
                StandardCharsets.UTF_8);
        List<String> pieces = Perplexity.pieces(text, 150, 600);
        List<String> progress = new ArrayList<>();
        List<Perplexity.Row> rows = new Perplexity(List.of(Adaptation.FIXED, Adaptation.BAYES, Adaptation.FIXED), 0.01f,
                0.1f).score(List.of(stories, stories), ModelOptions.defaults(), pieces,
                (done, total, method) -> progress.add(done + "/" + total));
        assertEquals(List.of("member:stories260K", "member:stories260K", "token:linear", "token:log-linear",
                "token:linear-adaptive", "token:log-linear-adaptive"), rows.stream().map(Perplexity.Row::method).toList(),
                "an adaptation asked twice is one row each");
        assertEquals(pieces.size() * 6, progress.size());
        assertEquals(pieces.size() * 6 + "/" + pieces.size() * 6, progress.get(progress.size() - 1));
        double alone = rows.get(0).score().bitsPerByte();
        assertTrue(alone > 0.5 && alone < 8, "a tiny story model's bits per byte: " + alone);
        for (Perplexity.Row r : rows) {
            assertEquals(rows.get(0).score().bytes(), r.score().bytes(), r.method());
            // equal distributions mix to themselves, whatever the weights learn
            assertEquals(alone, r.score().bitsPerByte(), 1e-4, r.method());
        }
        assertNull(rows.get(2).finalWeights());
        assertNotNull(rows.get(4).finalWeights());
        assertArrayEquals(new float[] {0.5f, 0.5f}, rows.get(4).finalWeights(), 1e-4f, "neither copy predicts better");
        assertEquals("token:log-linear-adaptive", Perplexity.toJson(rows).get("rows").get(5).get("method").asText());
    }
}
