package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Small templates and what Python's jinja2 3.1 prints for them in transformers' environment (trim_blocks,
 * lstrip_blocks, loopcontrols, the immutable sandbox), with messages = [{role: user, content: hi}],
 * bos_token "&lt;s&gt;", eos_token "&lt;/s&gt;" and the clock at 2026-07-06 21:05:09. The expected strings were
 * printed by jinja2 itself, not reasoned out.
 */
class ChatTemplateSemanticsTest {

    static final ChatTemplate.Input INPUT = new ChatTemplate.Input(List.of(Map.of("role", "user", "content", "hi")), true,
            "<s>", "</s>", LocalDateTime.of(2026, 7, 6, 21, 5, 9), Map.of());

    static String render(String template) {
        return ChatTemplate.parse(template).render(INPUT);
    }

    static ChatTemplateException failure(String template) {
        return assertThrows(ChatTemplateException.class, () -> render(template), template);
    }

    static Stream<Arguments> cases() {
        String[][] table = {
            {"{{ True }}|{{ False }}|{{ None }}|{{ none }}|{{ true }}", "True|False|None|None|True"},
            {"{{ 1.0 }} {{ 0.1 }} {{ 1e20 }} {{ 1.5e-5 }} {{ 0.0001 }} {{ 1/3 }} {{ 2**0.5 }} {{ 10**16*1.0 }} {{ -0.0 }}", "1.0 0.1 1e+20 1.5e-05 0.0001 0.3333333333333333 1.4142135623730951 1e+16 -0.0"},
            {"{{ [1, 'a', None, True, 2.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 'b') }} {{ () }}", "[1, 'a', None, True, 2.5] {'k': 'v', 'n': [1]} (1,) (1, 'b') ()"},
            {"{{ [\"it's\", 'a\"b', 'x\\ny', 'tab\\t', '\u00e9'] }}", "[\"it's\", 'a\"b', 'x\\ny', 'tab\\t', '\u00e9']"},
            {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", "3 -4 -2 2 3.5 2.0 1024 0.5 3.0 0.5"},
            {"{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 'ab' * 3 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 1 + true }}", "3 9 4 64 ababab ababab [1, 1, 1] ab [1, 2] 2"},
            {"{{ 'a' ~ 1 ~ none ~ [1] ~ undefined_var }}", "a1None[1]"},
            {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }}", "True False True True True True True True False"},
            {"{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not 0 }} {{ not 'a' }} {{ 1 and 0 or 5 }}", "x b  [] True False 5"},
            {"{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 }}|{{ 'y' if 0 else 'n' if 0 else 'm' }}", "y||m"},
            {"{{ 'hello'[1] }} {{ 'hello'[-1] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[::2] }} {{ [1,2,3,4][-2:] }} {{ [1,2,3,4][:-1] }} {{ [1,2,3,4][10:] }} {{ 'hello'[-100:2] }} {{ [1,2,3][5] }}|", "e o el olleh hlo [3, 4] [1, 2, 3] [] he |"},
            {"{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages.0.role }} {{ messages[0].missing }}|{{ none.x }}|", "user hi user ||"},
            {"{% set d = {'items': 1, 'a': 2} %}{{ d.a }} {{ d['items'] }} {{ d.get('a') }} {{ d.get('zz', 'def') }} {{ d.get('zz') }}", "2 1 2 def None"},
            {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"},
            {"{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}", "10TrueFalse332|21FalseFalse321|32FalseTrue310|"},
            {"{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}|{% endfor %}", "-2|1-3|2-|"},
            {"{% for x in ['a', 'b', 'c'] %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "odd even odd "},
            {"{% for x in [] %}x{% else %}empty{% endfor %}", "empty"},
            {"{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", "1,3,5,7,9"},
            {"{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "0134"},
            {"{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }} {% endfor %}", "3 7 "},
            {"{% for c in 'h\u00e9llo' %}{{ c }}.{% endfor %}", "h.\u00e9.l.l.o."},
            {"{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", "xy"},
            {"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", "21"},
            {"{% set ns = namespace(found=false, n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}", "True 6"},
            {"{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}", "12(1, 2)"},
            {"{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]", "[  inner 2  ]"},
            {"{% set up | upper %}shout{% endset %}{{ up }}", "SHOUT"},
            {"{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet('Cy', 'Yo') }}", "Hello, Ann! Hi, Bob! Yo, Cy!"},
            {"{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}body{% endcall %}", "<body>"},
            {"{% macro row(x) %}[{{ caller(x * 2) }}]{% endmacro %}{% call(v) row(3) %}v={{ v }}{% endcall %}", "[v=6]"},
            {"{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}", "4321"},
            {"{% macro v() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, k=3) }}", "(1, 2){'k': 3}"},
            {"{% filter upper %}hello {{ 'x' }}{% endfilter %}", "HELLO X"},
            {"{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}"},
            {"a {# comment #} b", "a  b"},
            {"{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello wORLD-foo'|title }}|{{ 'hello World'|capitalize }}", "x|hi|HELLO WORLD|hello|Hello World-Foo|Hello world"},
            {"{{ [1,2,3]|length }} {{ 'h\u00e9llo'|length }} {{ {'a':1}|count }} {{ [1,2,3]|first }} {{ [1,2,3]|last }} {{ 'abc'|first }} {{ []|first }}|", "3 5 1 1 3 a |"},
            {"{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ messages|join('|', attribute='role') }}", "1, 2, 3 ab user"},
            {"{{ undefined_var|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|default('d') }} {{ none|d('d', boolean=true) }}", "d  d None d"},
            {"{{ 'aXbXc'|replace('X', '-') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }}", "a-b-c bba -a-b-c-"},
            {"{{ 12|string ~ 'x' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '3.5'|float }} {{ 2|float }} {{ 'ff'|int(base=16) }}", "12x 43 4 0 7 3.5 2.0 255"},
            {"{{ 'abc'|list }} {{ {'a': 1}|list }} {{ {'a': 1, 'b': 2}|items|list }}", "['a', 'b', 'c'] ['a'] [('a', 1), ('b', 2)]"},
            {"{{ {'b': [1, 2], 'a': '\u00e9\"\\n'}|tojson }}|{{ {'a': 1, 'b': [1, 2]}|tojson(indent=2) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ '\u00e9'|tojson(ensure_ascii=true) }}|{{ [1, 2]|tojson(separators=(',', ':')) }}|{{ [1.0, none, true, {}]|tojson }}|{{ [[], {}]|tojson(indent=2) }}|{{ {1: 'a', none: 'b'}|tojson }}", "{\"b\": [1, 2], \"a\": \"\u00e9\\\"\\n\"}|{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}|{\"a\": 2, \"b\": 1}|\"\\u00e9\"|[1,2]|[1.0, null, true, {}]|[\n  [],\n  {}\n]|{\"1\": \"a\", \"null\": \"b\"}"},
            {"{{ [{'t': 'a', 'v': 1}, {'t': 'b', 'v': 2}, {'v': 3}]|selectattr('t', 'equalto', 'a')|list }}|{{ [{'t': 'a'}, {'t': 'b'}]|rejectattr('t', 'equalto', 'a')|list }}|{{ [{'t': 'a'}, {'x': 'b'}]|selectattr('t', 'defined')|list }}|{{ [0, 1, 2, 3]|select('odd')|list }}|{{ [0, 1, '', 'a']|select|list }}|{{ [1, 2, 3]|reject('equalto', 2)|list }}", "[{'t': 'a', 'v': 1}]|[{'t': 'b'}]|[{'t': 'a'}]|[1, 3]|[1, 'a']|[1, 3]"},
            {"{{ messages|map(attribute='role')|list }} {{ ['a', 'b']|map('upper')|list }} {{ [{'a': {'b': 1}}]|map(attribute='a.b')|list }} {{ [{}]|map(attribute='x', default='dflt')|list }}", "['user'] ['A', 'B'] [1] ['dflt']"},
            {"{{ ['b', 'A', 'a', 'B']|unique|list }} {{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ [3, 1, 2]|sort(reverse=true) }} {{ [{'n': 2}, {'n': 1}]|sort(attribute='n') }}", "['b', 'A'] ['A', 'a', 'b'] ['A', 'a', 'b'] [3, 2, 1] [{'n': 1}, {'n': 2}]"},
            {"{{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }} {{ '<b>'|safe }} {{ '<a href=\"x\">&\\''|e }} {{ '<b>'|escape }}", "[3, 2, 1] cba <b> &lt;a href=&#34;x&#34;&gt;&amp;&#39; &lt;b&gt;"},
            {"{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'a\\nb'|indent('--') }}", "a\n    b\n\n    c|  a\n  b|a\n  \n  b|a\n--b"},
            {"{{ 'ab'|center(6) }}|{{ 'ab'|center(7) }}|{{ 'one two, three'|wordcount }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 3|round }} {{ 2.5|round(method='floor') }}", "  ab  |   ab  |3 3 2.5 2.0 4.0 2.67 3.0 3 2.0"},
            {"{{ [1, 2, 3]|sum }} {{ [{'v': 1}, {'v': 2}]|sum(attribute='v') }} {{ [3, 1, 2]|min }} {{ ['b', 'A']|max }} {{ []|max }}|", "6 3 1 b |"},
            {"{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 'x')|list }} {{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ {'B': 1, 'a': 2}|dictsort(reverse=true) }}", "[[1, 2], [3, 4], [5]] [[1, 2], [3, 'x']] [('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('B', 1), ('a', 2)]"},
            {"{{ '%s is %d'|format('x', 3) }} {{ '<p>a  <b>b</b>\\n c</p>'|striptags }} {{ 'hello world foo bar'|truncate(9) }} {{ 'hello world foo bar'|truncate(9, true) }} {{ 'hello'|truncate(5) }} {{ 'hello world foo bar baz'|truncate(12, false, '..', 0) }}", "x is 3 a b c hello... hello ... hello hello.."},
            {"{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ {} is mapping }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ {} is sequence }} {{ true is boolean }} {{ 1 is boolean }}", "False True True True True True True False True True True False True True True False"},
            {"{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'a' is equalto 'a' }} {{ 1 is eq 1 }} {{ 2 is in [1, 2] }} {{ none is sameas none }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} {{ 'a' is callable }} {{ 1 is not none }} {{ x is not defined }}", "True False True True True True False True True True True True True True False True True"},
            {"{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a.b.c'.rstrip('.c') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ '  a b c '.split(None, 1) }}|{{ 'a b c'.rsplit(None, 1) }}", "a b|a|a|a|a.b|['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']|['a', 'b c ']|['a b', 'c']"},
            {"{{ 'hello'.startswith('he') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.endswith('lo') }} {{ 'aXa'.replace('a', 'b') }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ \"they're bill's friends\".title() }} {{ 'hello WORLD'.capitalize() }}", "True True True bXb AB ab They'Re Bill'S Friends Hello world"},
            {"{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.index('e') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}{x}'.format('a', 'b', x='c') }} {{ '{:>5}|{:<4}|{:^5}|{:.2f}'.format('a', 'b', 'c', 3.14159) }}", "2 3 -1 1 2 a-b a and b bac     a|b   |  c  |3.14"},
            {"{{ 'a\\nb\\r\\nc'.splitlines() }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' \\t'.isspace() }} {{ 'a1'.isalnum() }} {{ 'prefix-x'.removeprefix('prefix-') }} {{ 'x.txt'.removesuffix('.txt') }} {{ 'Ab'.islower() }}", "['a', 'b', 'c'] True True True True x x False"},
            {"{{ {'a': 1, 'b': 2}.keys()|list }} {{ {'a': 1, 'b': 2}.values()|list }} {{ {'a': 1}.items()|list }} {{ [1, 2, 3].index(2) }} {{ [1, 1, 2].count(1) }}", "['a', 'b'] [1, 2] [('a', 1)] 1 2"},
            {"{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", "[0, 1, 2] [1, 2, 3] [10, 7, 4, 1] {'a': 1, 'b': 'x'} 1"},
            {"{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %d, %Y') }}|{{ strftime_now('%A %a %j %y %p %I %e %-d %-m %%') }}", "2026-07-06 21:05:09|06 Jul 2026|July 06, 2026|Monday Mon 187 26 PM 09  6 6 7 %"},
            {"{{ \"a\\tb\\\\n\\x41\\u00e9\" }}|{{ 'adj' 'acent' }}|{{ 1_000 }}|{{ 0.5e1 }}\n  {% if true %}\n  yes\n  {% endif %}\n  end", "a\tb\\nA\u00e9|adjacent|1000|5.0\n  yes\n  end"},
            {"{%- if true -%}   x   {%- endif -%}   y", "xy"},
            {"{{ 'a' -}}   b   {{- 'c' }}", "abc"},
            {"{%+ if true %}  kept-lstrip{% endif +%}\nafter", "  kept-lstrip\nafter"},
            {"line1 {% if true %}x{% endif %}\nline2\n    {% for i in [1, 2] %}\n    {{ i }}\n    {% endfor %}", "line1 xline2\n    1\n    2\n"},
            {"{% set x = [1, 2] %}{{ x|length > 1 and x[0] == 1 }}", "True"},
            {"{{ messages|selectattr('role', 'equalto', 'user')|list|length }}", "1"},
            {"{{ (messages|last).content }}", "hi"},
            {"{{ 'a' if messages[0].role == 'user' else 'b' }}", "a"},
            {"{% if messages[0]['role'] == 'system' %}sys{% elif messages[0].role == 'user' %}usr{% else %}other{% endif %}", "usr"},
            {"{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] | trim + '\\n' }}{% endfor %}", "<|user|>hi\n"},
            {"{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token }}{{ eos_token }}", "True True True <s></s>"},
            {"{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{% set j = joiner(', ') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}", "aba1, 2, 3"},
            {"{% for x in [1, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", "121"},
            {"{% for item in [{'n': 'a', 'c': [{'n': 'b', 'c': []}]}] recursive %}{{ item.n }}({{ loop.depth }}){% if item.c %}[{{ loop(item.c) }}]{% endif %}{% endfor %}", "a(1)[b(2)]"},
            {"{% generation %}gen {{ 1 }}{% endgeneration %}", "gen 1"},
            {"{{ \"%s-%s\" % ('a', 'b') }} {{ \"%d%%\" % 5 }} {{ '%s' % 'x' }}", "a-b 5% x"},
            {"{{ [1, [2, (3,)], {'a': none}] }} {{ 'x' ~ (1, 2) }}", "[1, [2, (3,)], {'a': None}] x(1, 2)"},
            {"{{ 9007199254740993 }} {{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 123456789012345678.0 }} {{ 3.0 * 2 }}", "9007199254740993 2.5 0.30000000000000004 1e+16 1.2345678901234568e+17 6.0"},
            {"{{ -7 // 2.0 }} {{ 5 % 2.5 }} {{ 2 ** 62 }} {{ -1 ** 2 }} {{ (-1) ** 3 }}", "-4.0 0.0 4611686018427387904 1 -1"},
        };
        return Stream.of(table).map(c -> Arguments.of(c[0], c[1]));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rendersAsJinja2(String template, String expected) {
        assertEquals(expected, render(template));
    }

    @Test
    void syntaxErrorsNameTheConstructAndLine() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("a\nb\n{% foo %}"));
        assertEquals(Kind.SYNTAX, e.kind());
        assertEquals("line 3: unknown tag 'foo'", e.getMessage());
        e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("x\n\n{% for m in messages %}\n{{ m }}"));
        assertEquals(Kind.SYNTAX, e.kind());
        assertEquals("line 3: unclosed '{% for %}'", e.getMessage());
        e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{% if x %}{% endfor %}"));
        assertEquals("line 1: unexpected 'endfor' in '{% if %}'", e.getMessage());
        e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("\n{{ 'abc }}"));
        assertEquals("line 2: unclosed string literal", e.getMessage());
        e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{{ 1 + }}"));
        assertEquals(Kind.SYNTAX, e.kind());
        assertEquals(Kind.SYNTAX, assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{% break %}")).kind());
        assertEquals(Kind.SYNTAX, assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{# open")).kind());
        assertEquals(Kind.SYNTAX, assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{{ x")).kind());
    }

    @Test
    void unsupportedConstructsAreNamed() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("\n{% include 'other.jinja' %}"));
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("line 2: tag 'include' is not supported", e.getMessage());
        assertEquals(Kind.UNSUPPORTED, assertThrows(ChatTemplateException.class, () -> ChatTemplate.parse("{% import 'x' as y %}")).kind());
        e = failure("{{ 'x'|from_json }}");
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("from_json"), e.getMessage());
        // as in jinja2 3.x, an unknown filter in a branch not taken is no error
        assertEquals("ok", render("{% if false %}{{ x|from_json }}{% endif %}ok"));
        assertEquals(Kind.UNSUPPORTED, failure("{{ 1 is prime }}").kind());
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        ChatTemplateException e = failure("{% if messages[0].role != 'system' %}\n{{ raise_exception('System role required') }}{% endif %}");
        assertEquals(Kind.RAISED, e.kind());
        assertEquals("line 2: System role required", e.getMessage());
    }

    @Test
    void runtimeErrorsAsPythonRaisesThem() {
        assertEquals(Kind.RUNTIME, failure("{% for t in tools %}{% endfor %}").kind()); // 'NoneType' object is not iterable
        assertEquals(Kind.RUNTIME, failure("{{ functions.name }}").kind()); // attribute of undefined
        assertEquals(Kind.RUNTIME, failure("{{ x + 1 }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ 1 / 0 }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ 'a' < 1 }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ undefined_fn() }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ x|tojson }}").kind());
        assertEquals(Kind.RUNTIME, failure("{% set x = 1 %}{% set x.y = 2 %}").kind());
        ChatTemplateException e = failure("{% set ids = [] %}\n{% set _ = ids.append(1) %}");
        assertEquals(Kind.RUNTIME, e.kind());
        assertEquals("line 2: access to attribute 'append' of 'list' object is unsafe", e.getMessage());
        assertEquals(Kind.RUNTIME, failure("{% set d = {} %}{{ d.update({'a': 1}) }}").kind());
    }

    @Test
    void nothingOfTheHostIsReachable() {
        assertEquals("||||", render("{{ messages.__class__ }}|{{ ''.__class__ }}|{{ messages.getClass }}|{{ namespace.__init__ }}|{{ range.__globals__ }}"));
        assertEquals(Kind.RUNTIME, failure("{{ ''.getClass() }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ messages.getClass().getName() }}").kind());
        assertEquals(Kind.RUNTIME, failure("{{ messages[0].hashCode() }}").kind());
    }

    @Test
    void inputRejectsValuesATemplateMayNotSee() {
        Map<String, Object> hostile = Map.of("role", "user", "content", new Object());
        assertThrows(IllegalArgumentException.class, () -> ChatTemplate.Input.of(List.of(hostile)));
        assertThrows(IllegalArgumentException.class, () -> ChatTemplate.Input.of(List.of()).withVariable("messages", List.of()));
        assertThrows(NullPointerException.class, () -> ChatTemplate.Input.of(null));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(java.time.Duration.ZERO, 1, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(java.time.Duration.ofSeconds(1), 0, 1, 1, 1));
    }

    @Test
    void extraVariablesReachTheTemplate() {
        ChatTemplate t = ChatTemplate.parse("{{ enable_thinking }} {{ tools|length }} {{ tools[0].function.name }} {{ 7 }}");
        ChatTemplate.Input in = INPUT.withVariable("enable_thinking", false)
                .withVariable("tools", List.of(Map.of("type", "function", "function", Map.of("name", "f"))));
        assertEquals("False 1 f 7", t.render(in));
        assertEquals("1.5 3", ChatTemplate.parse("{{ x }} {{ y }}").render(INPUT.withVariable("x", 1.5f).withVariable("y", 3)));
    }

    @Test
    void oneParsedTemplateRendersFromManyThreads() throws Exception {
        ChatTemplate t = ChatTemplate.parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.content }}{% endfor %}{{ ns.n }}");
        List<Thread> threads = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger wrong = new java.util.concurrent.atomic.AtomicInteger();
        for (int i = 0; i < 4; i++) {
            Thread th = new Thread(() -> {
                for (int k = 0; k < 200; k++) if (!t.render(INPUT).equals("hi1")) wrong.incrementAndGet();
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) th.join();
        assertEquals(0, wrong.get());
    }
}
