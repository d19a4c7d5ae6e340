package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.eval.Accuracy;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrontierTest {
    static Frontier.Point p(String name, int correct, double tokens, double millis) {
        return new Frontier.Point(name, new Accuracy(correct, 100), tokens, millis);
    }

    static List<String> names(List<Frontier.Point> points) {
        return points.stream().map(Frontier.Point::name).toList();
    }

    @Test
    void theFrontierKeepsWhatNothingBeatsOnBothByIncreasingCost() {
        List<Frontier.Point> points = List.of(
                p("strong", 93, 300, 30),
                p("cheap", 60, 17, 2),
                p("dominated", 80, 320, 40), // less accurate than strong, for more
                p("middle", 88, 120, 8),
                p("same-accuracy-dearer", 88, 130, 5), // middle beats it on tokens, not on time
                p("same-cost-worse", 55, 17, 9));
        assertEquals(List.of("cheap", "middle", "strong"), names(Frontier.of(points, Cost.TOKENS)));
        assertEquals(List.of("cheap", "same-accuracy-dearer", "strong"), names(Frontier.of(points, Cost.MILLIS)),
                "wall time is a frontier of its own");
    }

    @Test
    void ofPointsEqualOnBothTheFirstStandsForThem() {
        List<Frontier.Point> points = List.of(p("a", 70, 50, 1), p("b", 70, 50, 1), p("c", 90, 90, 1));
        assertEquals(List.of("a", "c"), names(Frontier.of(points, Cost.TOKENS)));
        assertEquals(List.of("c"), names(Frontier.of(points, Cost.MILLIS)), "equal time: the more accurate wins");
    }

    @Test
    void theBudgetTakesTheMostAccurateThatFitsAndTheCheaperOfEquals() {
        List<Frontier.Point> points = List.of(p("strong", 93, 300, 30), p("cheap", 60, 17, 2), p("mid", 88, 120, 8),
                p("mid-dearer", 88, 150, 3));
        assertEquals("strong", Frontier.Budget.none().choose(points).name());
        assertEquals("mid", new Frontier.Budget(Cost.TOKENS, 200.0).choose(points).name());
        assertEquals("mid", new Frontier.Budget(Cost.TOKENS, 120.0).choose(points).name(), "the limit is inclusive");
        assertEquals("cheap", new Frontier.Budget(Cost.TOKENS, 119.0).choose(points).name());
        assertEquals("mid-dearer", new Frontier.Budget(Cost.MILLIS, 5.0).choose(points).name());
        assertEquals("mid", Frontier.Budget.none().choose(List.of(p("mid-dearer", 88, 150, 3), p("mid", 88, 120, 8)))
                .name(), "equally accurate: the fewer tokens");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> new Frontier.Budget(Cost.TOKENS, 10.0).choose(points));
        assertTrue(none.getMessage().contains("10 tokens per problem") && none.getMessage().contains("cheap, costs 17.0"),
                none.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Frontier.Budget(Cost.MILLIS, 0.0));
    }
}
