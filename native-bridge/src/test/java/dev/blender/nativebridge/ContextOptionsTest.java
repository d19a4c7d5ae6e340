package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ContextOptionsTest {

    @Test
    void moreSequencesThanABatchHoldsAreRefusedBeforeLlamaCppCouldAbort() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ContextOptions.defaults().withBatchSize(4).withMaxSequences(8));
        assertTrue(e.getMessage().contains("maxSequences (8) must be <= batchSize (4)"), e.getMessage());
        ContextOptions o = ContextOptions.defaults().withBatchSize(8).withMicroBatchSize(8).withMaxSequences(8);
        assertEquals(8, o.maxSequences());
    }
}
