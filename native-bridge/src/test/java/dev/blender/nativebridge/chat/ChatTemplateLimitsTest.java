package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Hostile templates (a chat template in a GGUF file is untrusted code) end in a LIMIT exception, never a hang, a
 * StackOverflowError or an OutOfMemoryError. The time bound is generous; the point is the exception.
 */
class ChatTemplateLimitsTest {

    private static final Duration BOUND = Duration.ofSeconds(5);

    private static ChatTemplateException limited(String template) {
        ChatTemplateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.parse(template).render(ChatTemplateSemanticsTest.INPUT), template));
        assertEquals(Kind.LIMIT, e.kind(), e.getMessage());
        return e;
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{% for i in range(10**9) %}x{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{ '' }}{% endfor %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
        "{{ 'x' * 10**10 }}",
        "{{ 'x' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10**100 }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l|tojson }}",
        "{% set s = 'x' * 1000000 %}{% for i in range(1000) %}{{ s }}{% endfor %}",
        "{% set s = 'x' * 1000000 %}{{ [s] * 100000 }}",
        "{% set s = 'ab' * 1000000 %}{{ s.replace('a', s) }}",
        "{% for i in range(100000) recursive %}{{ loop([i]) }}{% endfor %}",
    })
    void hostileTemplatesEndInALimit(String template) {
        limited(template);
    }

    @Test
    void deeplyNestedSourceIsRefusedWhenParsed() {
        for (String source : new String[] {
            "{{ " + "(".repeat(100_000) + "1" + ")".repeat(100_000) + " }}",
            "{{ " + "[".repeat(100_000) + "]".repeat(100_000) + " }}",
            "{{ " + "not ".repeat(100_000) + "1 }}",
            "{{ " + "-".repeat(100_000) + "1 }}",
            "{{ x" + ".a".repeat(100_000) + " }}",
            "{{ x" + "|trim".repeat(100_000) + " }}",
            "{% if 1 %}".repeat(100_000) + "{% endif %}".repeat(100_000),
            "{% for x in y %}".repeat(100_000),
        }) {
            ChatTemplateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse(source)));
            assertTrue(e.kind() == Kind.LIMIT || e.kind() == Kind.SYNTAX, e.kind() + ": " + e.getMessage());
        }
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{{ " + "(".repeat(1000) + "1" + ")".repeat(1000) + " }}"));
        assertEquals(Kind.LIMIT, e.kind());
    }

    @Test
    void theTimeLimitStopsABusyTemplate() {
        ChatTemplate.Limits limits = new ChatTemplate.Limits(Duration.ofMillis(100), 4_000_000, 64, Long.MAX_VALUE, 100_000);
        ChatTemplate t = ChatTemplate.parse("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}");
        long start = System.nanoTime();
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(ChatTemplateSemanticsTest.INPUT, limits));
        assertEquals(Kind.LIMIT, e.kind());
        assertTrue(e.getMessage().contains("100 ms"), e.getMessage());
        assertTrue(System.nanoTime() - start < BOUND.toNanos());
    }

    @Test
    void limitsCanBeRaisedOrLowered() {
        ChatTemplate t = ChatTemplate.parse("{% for i in range(50) %}x{% endfor %}");
        assertEquals("x".repeat(50), t.render(ChatTemplateSemanticsTest.INPUT));
        ChatTemplate.Limits tight = new ChatTemplate.Limits(Duration.ofSeconds(1), 10, 64, 1_000, 100);
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(ChatTemplateSemanticsTest.INPUT, tight));
        assertEquals(Kind.LIMIT, e.kind());
        ChatTemplate.Limits fewIterations = new ChatTemplate.Limits(Duration.ofSeconds(1), 1000, 64, 10, 100);
        assertEquals(Kind.LIMIT, assertThrows(ChatTemplateException.class, () -> t.render(ChatTemplateSemanticsTest.INPUT, fewIterations)).kind());
        ChatTemplate.Limits shallow = new ChatTemplate.Limits(Duration.ofSeconds(1), 1000, 3, 1000, 100);
        ChatTemplate rec = ChatTemplate.parse("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}");
        assertEquals("", rec.render(ChatTemplateSemanticsTest.INPUT));
        assertEquals(Kind.LIMIT, assertThrows(ChatTemplateException.class, () -> rec.render(ChatTemplateSemanticsTest.INPUT, shallow)).kind());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{{ 'a'.center(10**18) }}", "{{ 'a'.zfill(10**12) }}", "{{ 'a'.ljust(2**40, '*') }}", "{{ 'a'|center(10**12) }}",
        "{{ 'x\ny'|indent(10**12) }}", "{{ [1]|batch(10**12, 'x')|list }}", "{{ '{:>999999999999}'.format('a') }}",
        "{{ range(0 - 10**18, 10**18) }}", "{{ 'ab' * 2**62 }}", "{{ [1, 2] * -1 }}{{ 10**18 * 10 }}",
        "{{ ('x' * 3000000).split('') }}", "{{ ('x ' * 1500000).split()|length }}", "{{ 'x'.replace('', 'y' * 1000000) * 2 }}",
        "{{ '%s' % ('x' * 5000000) }}", "{{ ['a' * 3000000, 'b' * 3000000]|tojson(indent=100) }}",
    })
    void hugeArgumentsEndInAnErrorNotACrash(String template) {
        ChatTemplateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.parse(template).render(ChatTemplateSemanticsTest.INPUT), template));
        assertTrue(e.kind() == Kind.LIMIT || e.kind() == Kind.RUNTIME, e.kind() + ": " + e.getMessage());
    }
}
