package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.eval.Problem;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SplitTest {
    static List<Problem> problems(int n) {
        List<Problem> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Problem(i + "+1=", String.valueOf(i + 1)));
        }
        return out;
    }

    @Test
    void theSeedDealsDisjointHalvesOfTheShareInFileOrder() {
        List<Problem> all = problems(101);
        Split s = Split.of(all, 0.3, 7);
        assertEquals(30, s.tune().size());
        assertEquals(71, s.confirm().size());
        Set<Integer> seen = new HashSet<>(s.tuneIndex());
        s.confirmIndex().forEach(i -> assertTrue(seen.add(i), "problem " + i + " is in both halves"));
        assertEquals(101, seen.size(), "every problem is in one half");
        for (int i = 0; i < s.tune().size(); i++) {
            assertEquals(all.get(s.tuneIndex().get(i)), s.tune().get(i));
        }
        assertEquals(s.tuneIndex().stream().sorted().toList(), s.tuneIndex(), "each half keeps the file's order");
        assertEquals(s, Split.of(all, 0.3, 7), "the same seed deals the same halves");
        assertNotEquals(s.tuneIndex(), Split.of(all, 0.3, 8).tuneIndex());
        assertNotEquals(List.of(0, 1, 2), Split.of(problems(6), 0.5, 7).tuneIndex().subList(0, 3), "not the first half");
    }

    @Test
    void aShareThatLeavesAHalfEmptyIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Split.of(problems(10), 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Split.of(problems(10), 1, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Split.of(problems(3), 0.9, 1));
        assertTrue(e.getMessage().contains("confirmation half empty"), e.getMessage());
    }
}
