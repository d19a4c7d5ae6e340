package dev.blender.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.merge.MergeMethod;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import dev.blender.runtime.pipeline.Strategy;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** One spelling rule, whichever kind of name is read. */
class NamesTest {

    @Test
    void printsLowerCaseWithDashes() {
        assertEquals("log-linear", Names.id(CombineMethod.LOG_LINEAR));
        assertEquals("task-arithmetic", Names.id(" Task_Arithmetic "));
        assertEquals("task-arithmetic", MergeMethod.TASK_ARITHMETIC.cliName());
        assertEquals("full-blend", Strategy.FULL_BLEND.id());
    }

    @Test
    void caseDashesAndUnderscoresDoNotTellNamesApart() {
        for (String s : List.of("max-logits", "MAX_LOGITS", "maxlogits", "Max_Logits", " max-logits ")) {
            assertSame(Aggregation.MAX_LOGITS, Names.constant(Aggregation.class, s, "aggregation"), s);
        }
        assertEquals(Optional.of("token:loglinear"), Names.find(Composition.names(), "TOKEN:LOG_LINEAR"));
        assertEquals(Optional.empty(), Names.find(Composition.names(), "token:log"));
        assertTrue(Names.same("nq-open", "NQ_OPEN"));
    }

    @Test
    void everyKindOfNameReadsEverySpelling() {
        for (String s : List.of("full-blend", "FULL_BLEND", "fullblend", "Full_Blend")) {
            assertSame(Strategy.FULL_BLEND, Strategy.parse(s), s);
            assertEquals("full-blend", Composition.named(s).name(), s);
            assertEquals("full-blend", CompositionJson.parse(s).name(), s);
        }
        assertEquals("member:answerer-a", Composition.named("MEMBER:answerer-a").name(),
                "the generator's own name keeps its case and dashes");
        assertSame(MergeMethod.TASK_ARITHMETIC, MergeMethod.parse("TASK_ARITHMETIC"));
        assertSame(MergeMethod.TASK_ARITHMETIC, MergeMethod.parse("taskarithmetic"));
        assertSame(MergeMethod.TASK_ARITHMETIC, MergeMethod.parse("TA"));
        assertSame(AnswerChecker.NQ_OPEN, AnswerChecker.named("nq_open"));
        assertSame(AnswerChecker.NQ_OPEN, AnswerChecker.named("NQOpen"));
        assertEquals("mix", CompositionJson.parse("[{\"stage\": \"MIX\", \"method\": \"LogLinear\"}]").stages().get(0)
                .getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT));
    }

    @Test
    void anUnknownNameListsThePrintedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Names.constant(CombineMethod.class, "geometric", "mix: method"));
        assertEquals("mix: method 'geometric' is not one of [linear, log-linear, negative-evidence]", e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MergeMethod.parse("soup")).getMessage()
                .contains("linear, task-arithmetic, ties, dare"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Strategy.parse("blend")).getMessage()
                .contains("full-blend"));
    }
}
