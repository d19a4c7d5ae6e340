package dev.blender.runtime.eval;

import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Turns a model's output into an answer and decides whether it is right. Voting (majority, most
 * frequent) compares extracted answers, so "The answer is 42." and "42" count as the same vote for
 * GSM8K. The built-in checkers are {@link Standard}'s; {@link Regex} takes the answer out of the output
 * with the user's own regular expression.
 */
public interface AnswerChecker {
    /** The output, trimmed, equals a gold answer exactly (arith). */
    AnswerChecker EXACT = Standard.EXACT;
    /** GSM8K ({@link Standard#GSM8K}). */
    AnswerChecker GSM8K = Standard.GSM8K;
    /** NQ-open ({@link Standard#NQ_OPEN}). */
    AnswerChecker NQ_OPEN = Standard.NQ_OPEN;

    /** The answer a voter casts, from a model's raw output. */
    String extract(String output);

    /** Whether an extracted answer matches any of the gold answers. */
    boolean correct(String answer, List<String> gold);

    /** Whether a model's raw output is right: the answer {@link #extract extracted} from it is {@link #correct}. */
    default boolean accepts(String output, List<String> gold) {
        return correct(extract(output), gold);
    }

    /**
     * By the names recipes use: exact, gsm8k, nq-open in any spelling ({@link dev.blender.runtime.Names}), or
     * {@code regex:PATTERN} ({@link Regex}).
     *
     * @throws IllegalArgumentException an unknown name or a pattern that does not compile, naming it
     */
    static AnswerChecker named(String name) {
        if (name.regionMatches(true, 0, "regex:", 0, "regex:".length())) {
            return Regex.of(name.substring("regex:".length()));
        }
        return dev.blender.runtime.Names.find(Standard.class, name).orElseThrow(() -> new IllegalArgumentException(
                "unknown answer checker '" + name + "' (known: exact, gsm8k, nq-open, regex:PATTERN)"));
    }

    /** The built-in checkers. */
    enum Standard implements AnswerChecker {
        /** The output, trimmed, equals a gold answer exactly (arith). */
        EXACT {
            @Override
            public String extract(String output) {
                return output.strip();
            }

            @Override
            public boolean correct(String answer, List<String> gold) {
                return gold.stream().anyMatch(g -> g.strip().equals(answer));
            }
        },
        /** GSM8K: the number after "####" in the gold solution; from the output, the number after "####" or else its last number. */
        GSM8K {
            @Override
            public String extract(String output) {
                int mark = output.lastIndexOf("####");
                String tail = mark >= 0 ? output.substring(mark + 4) : output;
                Matcher m = NUMBER.matcher(tail.replace(",", ""));
                String last = null;
                while (m.find()) {
                    last = m.group();
                    if (mark >= 0) {
                        break; // the first number after the marker is the answer
                    }
                }
                return last == null ? "" : canonicalNumber(last);
            }

            @Override
            public boolean correct(String answer, List<String> gold) {
                return !answer.isEmpty() && gold.stream().anyMatch(g -> extract(g).equals(answer));
            }
        },
        /** NQ-open: SQuAD-style normalisation (case, punctuation, articles, spaces), then equality with any gold answer. */
        NQ_OPEN {
            @Override
            public String extract(String output) {
                String firstLine = output.strip().split("\\R", 2)[0];
                return normalise(firstLine);
            }

            @Override
            public boolean correct(String answer, List<String> gold) {
                return gold.stream().anyMatch(g -> normalise(g).equals(answer));
            }
        };

        private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?");

        static String canonicalNumber(String s) {
            if (s.contains(".")) {
                s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
            }
            return s.equals("-0") ? "0" : s;
        }

        static String normalise(String s) {
            String t = Normalizer.normalize(s, Normalizer.Form.NFKC).toLowerCase(Locale.ROOT);
            t = t.replaceAll("\\p{Punct}", " ");
            t = t.replaceAll("\\b(a|an|the)\\b", " ");
            return t.replaceAll("\\s+", " ").strip();
        }
    }

    /**
     * The answer is the first match of a regular expression in the output (its first group when it has
     * groups), trimmed; it is right when it equals a gold answer, trimmed. No match: the empty answer,
     * never right. For a task whose outputs wrap the answer, e.g. {@code regex:Answer: (\S+)}.
     */
    record Regex(Pattern pattern) implements AnswerChecker {
        public Regex {
            java.util.Objects.requireNonNull(pattern, "pattern");
        }

        /** @throws IllegalArgumentException the pattern is empty or does not compile (the message says where) */
        public static Regex of(String pattern) {
            if (pattern.isEmpty()) {
                throw new IllegalArgumentException("answer checker regex: needs a pattern after 'regex:'");
            }
            try {
                return new Regex(Pattern.compile(pattern));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("answer checker regex:" + pattern + " is not a regular expression: "
                        + e.getDescription() + " near index " + e.getIndex(), e);
            }
        }

        @Override
        public String extract(String output) {
            Matcher m = pattern.matcher(output);
            if (!m.find()) {
                return "";
            }
            String found = m.groupCount() > 0 && m.group(1) != null ? m.group(1) : m.group();
            return found.strip();
        }

        @Override
        public boolean correct(String answer, List<String> gold) {
            return !answer.isEmpty() && gold.stream().anyMatch(g -> g.strip().equals(answer));
        }
    }
}
