package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class SuffixDrafterTest {
    private static final int[] NONE = {};

    @Test
    void proposesWhatFollowsTheLongestMatchingSuffix() {
        SuffixDrafter d = SuffixDrafter.of(List.of(new int[] {5, 1, 2, 3, 4}, new int[] {9, 1, 2, 7, 8, 6}));
        assertArrayEquals(new int[] {5, 1, 2}, d.draft(NONE, 3), "nothing written yet: the first source's start");
        assertArrayEquals(new int[] {2, 3, 4}, d.draft(new int[] {1}, 8), "a tie goes to the earlier source");
        assertArrayEquals(new int[] {7, 8}, d.draft(new int[] {9, 1, 2}, 2), "the longer match wins");
        assertArrayEquals(new int[] {6}, d.draft(new int[] {0, 7, 8}, 4), "a guess stops at its source's end");
        assertArrayEquals(NONE, d.draft(new int[] {1, 2, 3, 4}, 4), "a match at the very end has nothing to follow");
        assertArrayEquals(NONE, d.draft(new int[] {42}, 4), "no match, no guess");
        assertArrayEquals(NONE, d.draft(new int[] {1}, 0));
        assertArrayEquals(NONE, SuffixDrafter.of(List.of()).draft(NONE, 4));
    }
}
