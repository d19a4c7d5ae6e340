package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.eval.Accuracy;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TuningTest {
    @Test
    void aConfirmationOutsideTheTuningIntervalIsSaid() {
        Accuracy tuned = new Accuracy(225, 250); // 0.900, interval 0.857-0.931
        assertEquals(Optional.empty(), Tuning.outside(tuned, new Accuracy(218, 250), "x"), "0.872 is inside");
        String below = Tuning.outside(tuned, new Accuracy(200, 250), "fuse:mix3").orElseThrow();
        assertTrue(below.contains("fuse:mix3, 0.800, falls below") && below.contains("0.857-0.931")
                && below.contains("lucky"), below);
        String above = Tuning.outside(tuned, new Accuracy(245, 250), "x").orElseThrow();
        assertTrue(above.contains("above"), above);
        assertEquals(Optional.empty(), Tuning.outside(new Accuracy(10, 10), new Accuracy(10, 10), "x"),
                "a perfect score confirmed is inside an interval that ends at 1");
    }
}
