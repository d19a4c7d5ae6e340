package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Mixes and fusions shared between the compositions of one question, as eval and tune run them. */
class SharedWorkTest {
    @Test
    void compositionsThatMixAndFuseAlikeReadOneMixAndOneFusionAndAnswerAsAlone() {
        try (Blender blender = ArithBlenders.full().build()) {
            SharedWork work = new SharedWork();
            java.util.function.BiFunction<SharedWork, String, BlendRequest> request = (w, name) -> {
                BlendRequest.Builder b = BlendRequest.builder().prompt("58+27=").seed(3).composition(Composition.named(name));
                return (w == null ? b : b.sharedWork(w)).build();
            };
            BlendResult mix3 = blender.blend(request.apply(work, "fuse:mix3"));
            assertEquals(2, work.writtenCount(), "the log-linear mix and the fusion of its answer with two votes");
            StringBuilder streamed = new StringBuilder();
            BlendResult again = blender.blend(request.apply(work, "fuse:mix3"),
                    new BlendListener() {
                        @Override
                        public void onAnswer(String text) {
                            streamed.append(text);
                        }
                    });
            assertEquals(mix3.answer(), streamed.toString().strip(), "a shared fusion still streams its text");
            for (String name : new String[] {"fuse:mix3-verified", "cascade:mix3", "token:loglinear"}) {
                BlendResult shared = blender.blend(request.apply(work, name));
                BlendResult alone = blender.blend(request.apply(null, name));
                assertEquals(alone.answer(), shared.answer(), name);
                if (!Composition.named(name).needsRanker()) { // a judge's verdicts are charged by the pair cache
                    assertEquals(alone.usage().totalTokens(), shared.usage().totalTokens(),
                            name + " is charged what it decodes alone");
                }
            }
            assertEquals(2, work.writtenCount(), "nothing mixed or fused twice");
            assertEquals(mix3.usage().totalTokens(), again.usage().totalTokens());
        }
    }
}
