package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link BlenderConfig.Builder#prefixReuse}: pooled generator and fuser contexts keep the last prompt. */
class PrefixReuseBlendTest {
    private static final List<String> QUESTIONS = List.of("85+95=", "39+99=", "77-67=", "79+14=", "17+62=", "16-16=");

    private static List<String> answers(Blender blender, String composition) {
        List<String> out = new ArrayList<>();
        for (String q : QUESTIONS) {
            out.add(blender.blend(BlendRequest.builder().prompt(q).seed(5).composition(Composition.named(composition)).build()).answer());
        }
        return out;
    }

    /** What sequence 0 of a role's pooled context kept from the last request (taking it). */
    private static int kept(Blender blender, Path model, dev.blender.nativebridge.ContextOptions options) {
        try (ModelPool.Lease lease = blender.pool().lease(model, blender.config().modelOptionsFor(model), options)) {
            return lease.context().takeKeptPrefix().length;
        }
    }

    @Test
    void generatorsAndFuserKeepTheirLastPromptAndAnswerAsWithout() {
        Path a = ArithBlenders.arith("answerer-a");
        List<String> plain;
        List<String> fusedPlain;
        try (Blender off = ArithBlenders.full().build()) {
            plain = answers(off, "single");
            fusedPlain = answers(off, "fuse:frequent3");
            assertFalse(off.config().prefixReuse(), "off unless asked");
            assertEquals(0, kept(off, a, off.generatorContext(off.config().member(a), 1)));
        }
        try (Blender on = ArithBlenders.full().prefixReuse(true).build()) {
            assertEquals(plain, answers(on, "single"), "greedy answers do not change");
            int held = kept(on, a, on.generatorContext(on.config().member(a), 1));
            // "<s> ▁Q: 16-16= A:" and the answer's tokens before its end
            assertTrue(held >= "Q: 16-16= A:".length(), "the last prompt is kept: " + held);
            assertEquals(fusedPlain, answers(on, "fuse:frequent3"));
            Path fuser = on.config().fuser();
            assertTrue(kept(on, fuser, on.fuserContext()) > 0, "the fuser's last prompt too");
        }
    }
}
