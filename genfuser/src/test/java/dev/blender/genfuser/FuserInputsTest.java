package dev.blender.genfuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The K inputs every fuser reads (K = 3 for the arith template): the first K, fewer padded with the best. */
class FuserInputsTest {
    static final FuserTemplate K3 = FuserTemplate.arith();

    @Test
    void fewerThanKArePaddedWithTheFirst() {
        assertEquals(List.of("a", "a", "a"), Fuser.inputs(K3, List.of("a")));
        assertEquals(List.of("a", "b", "a"), Fuser.inputs(K3, List.of("a", "b")));
    }

    @Test
    void moreThanKAreCutToTheFirstKInOrder() {
        assertEquals(List.of("c", "a", "b"), Fuser.inputs(K3, List.of("c", "a", "b", "d", "e")));
    }

    @Test
    void noCandidatesIsRefused() {
        assertEquals("nothing to fuse: no candidates",
                assertThrows(IllegalArgumentException.class, () -> Fuser.inputs(K3, List.of())).getMessage());
    }
}
