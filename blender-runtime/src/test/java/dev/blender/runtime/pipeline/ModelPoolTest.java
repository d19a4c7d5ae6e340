package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.MemoryFootprint;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The pool's two budgets. This machine has no GPU, so the rule that says where weights go is replaced
 * by one that pretends every model with {@code gpuLayers} has a GPU ({@link MemoryFootprint#of} with
 * a GPU present); the accounting under test is the pool's own.
 */
class ModelPoolTest {
    private static final ContextOptions CTX = ContextOptions.defaults().withContextSize(64).withThreads(1);
    private static final ModelOptions ON_GPU = ModelOptions.defaults().withGpuLayers(-1);

    @Test
    void gpuMemoryIsABudgetOfItsOwn() {
        Path a = TestModels.tiny(1, 0);
        Path b = TestModels.tiny(2, 0);
        MemoryFootprint fp = MemoryFootprint.of(dev.blender.nativebridge.gguf.GgufFile.read(a), -1, true);
        assertTrue(fp.deviceBytes() > 0 && fp.hostBytes() > 0, fp.toString());
        // host room for both, GPU room for one
        try (ModelPool pool = new ModelPool(100L << 20, fp.deviceBytes() + fp.deviceBytes() / 2,
                (g, o) -> MemoryFootprint.of(g, o.gpuLayers(), true))) {
            ModelPool.Lease first = pool.lease(a, ON_GPU, CTX);
            assertEquals(fp.deviceBytes(), pool.deviceBytesInUse());
            first.close();
            try (ModelPool.Lease cpu = pool.lease(b, ModelOptions.defaults(), CTX)) {
                assertTrue(pool.isLoaded(a), "a model on the CPU takes no GPU memory: nothing evicted");
                assertEquals(fp.deviceBytes(), pool.deviceBytesInUse());
            }
            ModelPool.Lease second = pool.lease(b, ON_GPU, CTX);
            assertFalse(pool.isLoadedWith(a, ON_GPU), "the least recently used GPU model made room");
            assertTrue(pool.isLoadedWith(b, ModelOptions.defaults()), "the CPU model stays");
            assertEquals(fp.deviceBytes(), pool.deviceBytesInUse());
            // a GPU model in use is evicted but not closed: its memory counts until its lease returns
            ModelPool.Lease third = pool.lease(a, ON_GPU, CTX);
            assertTrue(second.model().isOpen());
            assertEquals(2 * fp.deviceBytes(), pool.deviceBytesInUse());
            second.close();
            assertFalse(second.model().isOpen());
            assertEquals(fp.deviceBytes(), pool.deviceBytesInUse());
            third.close();
        }
    }

    @Test
    void aModelLargerThanTheGpuBudgetIsRefusedWithItsSize() {
        Path a = TestModels.tiny(1, 0);
        try (ModelPool pool = new ModelPool(100L << 20, 1024, (g, o) -> MemoryFootprint.of(g, o.gpuLayers(), true))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.lease(a, ON_GPU, CTX));
            assertTrue(e.getMessage().contains("GPU") && e.getMessage().contains("1024"), e.getMessage());
        }
    }

    @Test
    void modelsOverTwoGibibytesWeighWhatTheyWeigh() {
        // weights of 3 GiB each (pretended): an int weigher in bytes would count 2 GiB, and two would "fit" 4.5 GiB
        Path a = TestModels.tiny(1, 0);
        Path b = TestModels.tiny(2, 0);
        try (ModelPool pool = new ModelPool(9L << 29, 0, (g, o) -> new MemoryFootprint(3L << 30, 0))) {
            pool.lease(a, ModelOptions.defaults(), CTX).close();
            pool.lease(b, ModelOptions.defaults(), CTX).close();
            assertEquals(1, pool.loadedModels(), "4.5 GiB holds one 3 GiB model");
            assertTrue(pool.isLoaded(b));
        }
    }
}
