package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Renders every line of the reference (expected.jsonl: 70 real templates x 6 renders made with Python's jinja2 as
 * transformers configures it) and requires the identical text for each {@code ok} line and a refusal for each
 * {@code error} line.
 */
class ChatTemplateReferenceTest {

    /** Renders known to differ from the reference, each with why; the test fails if one starts to match. */
    private static final Map<String, String> KNOWN_DIFFERENCES = Map.of();

    @Test
    void rendersEveryReferenceLineIdentically() {
        Map<String, String> sources = ReferenceData.templates();
        Map<String, List<Map<String, Object>>> conversations = ReferenceData.conversations();
        List<ReferenceData.Case> cases = ReferenceData.cases();
        assertEquals(420, cases.size(), "reference lines");
        Map<String, ChatTemplate> parsed = new HashMap<>();
        List<String> failures = new ArrayList<>();
        TreeSet<String> differing = new TreeSet<>();
        int identical = 0, refused = 0, ok = 0, errors = 0;
        for (ReferenceData.Case c : cases) {
            String outcome;
            try {
                ChatTemplate t = parsed.computeIfAbsent(c.template(), n -> ChatTemplate.parse(sources.get(n)));
                String text = t.render(ReferenceData.input(c, conversations));
                outcome = c.ok() ? (text.equals(c.text()) ? null : "differs: " + firstDifference(c.text(), text))
                        : "rendered, but the reference refused it with " + c.error();
            } catch (ChatTemplateException e) {
                outcome = c.ok() ? "threw " + e.kind() + ": " + e.getMessage() : null;
            }
            if (c.ok()) ok++;
            else errors++;
            if (outcome == null) {
                if (c.ok()) identical++;
                else refused++;
            } else {
                differing.add(c.id());
                if (!KNOWN_DIFFERENCES.containsKey(c.id())) failures.add(c.id() + ": " + outcome);
            }
        }
        for (String known : KNOWN_DIFFERENCES.keySet()) {
            if (!differing.contains(known)) failures.add(known + ": listed as differing but now matches; remove it from the list");
        }
        System.out.println("chat templates: " + identical + "/" + ok + " identical, " + refused + "/" + errors + " error lines refused");
        if (!failures.isEmpty()) fail(failures.size() + " unexpected outcomes:\n" + String.join("\n", failures));
        assertTrue(identical >= Math.ceil(ok * 0.98), "at least 98% identical");
        assertEquals(errors, refused, "every error line refused");
    }

    private static String firstDifference(String expected, String actual) {
        int i = 0;
        while (i < expected.length() && i < actual.length() && expected.charAt(i) == actual.charAt(i)) i++;
        int from = Math.max(0, i - 40);
        return "at char " + i + ": expected ..." + escape(expected.substring(from, Math.min(expected.length(), i + 40)))
                + "... but was ..." + escape(actual.substring(from, Math.min(actual.length(), i + 40))) + "...";
    }

    private static String escape(String s) {
        return s.replace("\n", "\\n").replace("\t", "\\t");
    }
}
