package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.embedding.EmbeddingConsensusScorer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The blender's embedding scorer has its own guard: it is made once, never behind the pair cache, never after close. */
class BlenderEmbeddingsTest {

    @Test
    void theScorerIsMadeWhileThePairCacheIsHeld() throws Exception {
        try (Blender blender = Blender.builder().generator(TestModels.tiny()).build()) {
            EmbeddingConsensusScorer first;
            // a thread that holds the pair cache's monitor (as anything locking the cache would) must not
            // hold up the scorer: before, both shared that monitor and this waited for the holder
            synchronized (blender.pairCache) {
                first = CompletableFuture.supplyAsync(blender::embeddings).get(10, TimeUnit.SECONDS);
            }
            assertNotNull(first);
            assertSame(first, blender.embeddings(), "made once");
            CompletableFuture<?>[] racing = new CompletableFuture<?>[8];
            for (int i = 0; i < racing.length; i++) {
                racing[i] = CompletableFuture.runAsync(() -> assertSame(first, blender.embeddings()));
            }
            CompletableFuture.allOf(racing).get(30, TimeUnit.SECONDS);
            blender.close();
            assertThrows(IllegalStateException.class, blender::embeddings,
                    "a scorer made after close would never be closed");
        }
    }
}
