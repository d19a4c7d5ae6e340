package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import java.util.List;
import org.junit.jupiter.api.Test;

class AnswerPickTest {

    /** An answer whose least likely token has probability {@code least} (null: no probabilities, as a remote one). */
    static AnswerPick.Written written(String text, Double least) {
        float[] lp = least == null ? new float[0] : new float[] {0f, (float) Math.log(least), -0.01f};
        return new AnswerPick.Written(text, new Candidate(0, text, new int[lp.length], lp,
                FinishReason.END_OF_GENERATION, 0, 0));
    }

    @Test
    void theTextWrittenMostOftenWinsOverAMoreConfidentLoneOne() {
        List<AnswerPick.Written> w = List.of(written("80", 0.5), written("79", 0.99), written("80", 0.4));
        AnswerPick.Written chosen = AnswerPick.choose(w, null);
        assertEquals("80", chosen.text());
        assertEquals(0.5, chosen.confidence(), 1e-6, "the surer of the two writers of 80 carries it");
    }

    @Test
    void aTieGoesToTheWriterWhoseLeastLikelyTokenWasMoreLikely() {
        assertEquals("79", AnswerPick.choose(List.of(written("80", 0.46), written("79", 0.83)), null).text());
        assertEquals("80", AnswerPick.choose(List.of(written("80", 0.83), written("79", 0.83)), null).text(),
                "a full tie: the earlier written");
        assertEquals("79", AnswerPick.choose(List.of(written("80", null), written("79", 0.01)), null).text(),
                "unknown probabilities count as unsure");
    }

    @Test
    void lastLimitsTheChoiceToTheLatestAnswers() {
        List<AnswerPick.Written> w = List.of(written("81", 0.9), written("81", 0.9), written("80", 0.5),
                written("79", 0.6));
        assertEquals("81", AnswerPick.choose(w, null).text());
        assertEquals("79", AnswerPick.choose(w, 2).text());
        assertEquals("81", AnswerPick.choose(w, 9).text(), "more than were written: all");
        assertThrows(IllegalStateException.class, () -> AnswerPick.choose(List.of(), null));
    }
}
