package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Mutates the real templates (deletes, duplicates and swaps token spans, inserts Jinja fragments, truncates) and
 * requires every parse and render to end in a string or a {@link ChatTemplateException}: any other throwable is a
 * bug in the engine. Fixed seeds; a failure names the seed and case to reproduce it with {@link #mutate}.
 */
class ChatTemplateFuzzTest {

    private static final long SEED = 0x5EED_CAFEL;
    private static final int CASES = Integer.getInteger("chat.fuzz.cases", 1500);
    private static final Pattern TOKEN = Pattern.compile("\\{\\{-?|-?\\}\\}|\\{%-?|-?%\\}|\\{#|#\\}|\\w+|\\s+|'[^'\\n]*'|\"[^\"\\n]*\"|.", Pattern.DOTALL);
    private static final String[] FRAGMENTS = {
        "{% for x in messages %}", "{% endfor %}", "{% if x %}", "{% endif %}", "{% else %}", "{% elif y %}",
        "{{ messages[0].content|upper }}", "{{ (", ")", "]", "[", "{", "}", "{%", "%}", "{{", "}}", "{#", "#}",
        "{% set ns = namespace(a=1) %}{% set ns.a = ns.a + 1 %}", "{% set ns.x = 1 %}", "{{ range(5)|join(',') }}",
        "{{ x.y.z }}", "{% macro m(a, b=2) %}{{ a ~ b }}{{ caller() if caller is defined }}{% endmacro %}{{ m(1) }}",
        "{% call m(1) %}in{% endcall %}", "{{ 1/0 }}", "{{ 1//0 }}", "{{ 'a' * 3 }}", "{% raw %}", "{% endraw %}",
        "{{ none.x }}", "{{ none.x.y }}", "{{ [1,2,3][5:1:-1] }}", "{{ '%s %d' % ('a', 1) }}", "{{ '{}{x}'.format(1) }}",
        "{{ 5|round(2) }}", "{{ messages|map(attribute='role')|unique|list }}", "{{ messages|dictsort }}",
        "{{ tools|tojson(indent=2) }}", "{% break %}", "{% continue %}", "{{ loop.cycle() }}", "{{ loop.previtem }}",
        "{{ messages|selectattr('role','equalto','user')|first }}", "{{ x|default('d', true)|trim|title }}",
        "{{ 'a,b'.split(',')[-1] }}", "{{ {'k': [1, (2,)]}|tojson }}", "{{ -2**63 }}", "{{ 9223372036854775807 + 1 }}",
        "{{ 'x'|indent(4, true) }}", "{{ items|batch(2)|list }}", "{{ messages|sort(attribute='role')|last }}",
        "{% filter upper %}", "{% endfilter %}", "{% set v %}", "{% endset %}", "{{ raise_exception('no') }}",
        "{{ strftime_now('%Y-%m-%d %A %-d %q') }}", "{{ 3 is divisibleby 0 }}", "{{ x is sameas none }}", "{{ a if b }}",
        "{{ 'é🙂'[1] ~ 'é🙂'[::-1] }}", "{{ '\\u00e9\\x41\\N' }}", "{% generation %}", "{% endgeneration %}",
        "{% include 'x' %}", "{{ dict(a=1).items()|list }}", "{{ joiner()() }}", "{{ cycler(1,2).next() }}",
        "{{ [1]*100000 }}", "{{ 'ab'.center(9, '*') }}", "{{ messages[0]|items }}", "{{ messages|max(attribute='role') }}",
    };

    @Test
    void mutatedTemplatesReturnOrThrowChatTemplateException() {
        List<String> sources = new ArrayList<>(ReferenceData.templates().values());
        List<List<Map<String, Object>>> conversations = new ArrayList<>(ReferenceData.conversations().values());
        ChatTemplate.Limits limits = ChatTemplate.Limits.DEFAULT.withTimeout(Duration.ofMillis(500));
        long start = System.nanoTime();
        int rendered = 0, refused = 0;
        List<String> failures = new ArrayList<>();
        Map<String, Integer> kinds = new java.util.TreeMap<>();
        for (int i = 0; i < CASES; i++) {
            Random rnd = new Random(SEED + i);
            String source = mutate(sources.get(rnd.nextInt(sources.size())), rnd);
            ChatTemplate.Input input = new ChatTemplate.Input(conversations.get(rnd.nextInt(conversations.size())), rnd.nextBoolean(),
                    "<s>", "</s>", LocalDateTime.of(2026, 7, 26, 9, 30), Map.of("enable_thinking", rnd.nextBoolean()));
            try {
                ChatTemplate.parse(source).render(input, limits);
                rendered++;
            } catch (ChatTemplateException e) {
                refused++;
                kinds.merge(e.kind() + (e.kind() == ChatTemplateException.Kind.LIMIT ? " " + e.getMessage().replaceAll("\\d+", "N") : ""), 1, Integer::sum);
            } catch (Throwable t) {
                StringWriter w = new StringWriter();
                t.printStackTrace(new PrintWriter(w));
                failures.add("seed " + (SEED + i) + " (case " + i + "): " + w.toString().lines().limit(6).reduce((a, b) -> a + "\n  " + b).orElse(""));
                if (failures.size() >= 10) break;
            }
        }
        System.out.printf("chat template fuzz: %d rendered, %d refused %s in %d ms%n", rendered, refused, kinds, (System.nanoTime() - start) / 1_000_000);
        if (!failures.isEmpty()) fail("engine threw something other than ChatTemplateException:\n" + String.join("\n", failures));
        assertTrue(rendered > CASES / 20 && refused > CASES / 20, "mutations both render and fail: " + rendered + "/" + refused);
    }

    /** One to four mutations of the template's tokens, drawn from {@code rnd}. */
    static String mutate(String source, Random rnd) {
        List<String> tokens = new ArrayList<>();
        Matcher m = TOKEN.matcher(source);
        while (m.find()) tokens.add(m.group());
        if (rnd.nextBoolean()) {
            // a whole fragment where text may stand, so the template mostly still parses and the fragment runs
            List<Integer> ends = new ArrayList<>();
            for (int i = 0; i < tokens.size(); i++) if (tokens.get(i).endsWith("%}") || tokens.get(i).endsWith("}}")) ends.add(i + 1);
            int count = 1 + rnd.nextInt(2);
            for (int k = 0; k < count && !ends.isEmpty(); k++) {
                tokens.add(ends.get(rnd.nextInt(ends.size())), FRAGMENTS[rnd.nextInt(FRAGMENTS.length)]);
            }
            return String.join("", tokens);
        }
        int n = 1 + rnd.nextInt(3);
        for (int k = 0; k < n && !tokens.isEmpty(); k++) {
            int a = rnd.nextInt(tokens.size());
            int len = 1 + rnd.nextInt(Math.min(12, tokens.size() - a));
            switch (rnd.nextInt(6)) {
                case 0 -> tokens.subList(a, a + len).clear();
                case 1 -> tokens.addAll(a, new ArrayList<>(tokens.subList(a, a + len)));
                case 2 -> {
                    int b = rnd.nextInt(tokens.size());
                    String t = tokens.get(a);
                    tokens.set(a, tokens.get(b));
                    tokens.set(b, t);
                }
                case 3, 4 -> tokens.add(a, FRAGMENTS[rnd.nextInt(FRAGMENTS.length)]);
                default -> tokens.subList(a, tokens.size()).clear();
            }
        }
        return String.join("", tokens);
    }
}
