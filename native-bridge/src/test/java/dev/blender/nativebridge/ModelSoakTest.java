package dev.blender.nativebridge;

import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link LifecycleTest}'s load/decode/close soak on the shared real models, on whichever library (ABI) the
 * build runs with: 200 cycles each (about 5 s for stories260K, measured), 1,000 with
 * {@code -Dblender.measure=true}; resident memory outside the JVM's own stays within the same bound.
 */
class ModelSoakTest {
    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K.gguf", "models/arith/judge.gguf"})
    void realModelLoadCloseCyclesDoNotGrowNativeMemory(String model) throws IOException {
        LifecycleTest.cycles(TestModels.sharedFile(model), Boolean.getBoolean("blender.measure") ? 1000 : 200);
    }
}
