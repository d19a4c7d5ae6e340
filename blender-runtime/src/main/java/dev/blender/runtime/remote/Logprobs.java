package dev.blender.runtime.remote;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The log-probabilities of one choice of an OpenAI-compatible answer, read from whichever of the two shapes
 * the server wrote: the only place either shape is read.
 *
 * <ul>
 *   <li>{@link Shape#CHAT}: {@code logprobs.content[]}, one object per generated token with {@code token},
 *       {@code logprob}, optionally {@code bytes} and {@code id}, and {@code top_logprobs[]} of the same
 *       objects. OpenAI's and vLLM's chat completions, Ollama's, and llama.cpp's server on <em>both</em>
 *       endpoints (it answers {@code /v1/completions} in this shape too).</li>
 *   <li>{@link Shape#COMPLETIONS}: OpenAI's legacy completions shape, parallel arrays {@code tokens},
 *       {@code token_logprobs}, {@code top_logprobs} (one object from token text to log-probability per
 *       position) and {@code text_offset}. OpenAI's and vLLM's {@code /v1/completions}.</li>
 * </ul>
 *
 * <p>End of generation. Servers name it in three ways: by its text ({@link TokenLogprob#END_MARKERS}, as
 * vLLM and OpenAI write it); as a token that writes nothing ({@code "token": ""}, no bytes: llama.cpp's
 * server renders every control token so, and stops on its end-of-generation ones); or only by
 * {@code finish_reason: "stop"} with nothing generated and no position listed. A token that writes nothing
 * is taken for the end unless the same answer shows the server went on past it (it was chosen at an earlier
 * position, or at the last with {@code finish_reason: "length"}): of the tokens that write nothing, a model
 * puts its mass in generated text on its end tokens, and without them a mix never sees a member end and
 * writes on ({@code 1810008} for {@code 180}).
 *
 * @param shape     how the server wrote them ({@link Shape#NONE}: it wrote none)
 * @param positions the generated positions, in order
 * @param missing   for {@link Shape#NONE}: what the choice held instead (for an error naming it); else null
 */
public record Logprobs(Shape shape, List<Position> positions, String missing) {
    /** Which shape a choice's log-probabilities came in. */
    public enum Shape {
        CHAT, COMPLETIONS, NONE
    }

    /**
     * One generated position: the token the server chose and the alternatives it listed there, the chosen
     * one among them once (servers list it in the top list as well, or not, when it was not among the top).
     */
    public record Position(TokenLogprob chosen, List<TokenLogprob> top) {
        public Position {
            Objects.requireNonNull(chosen, "chosen");
            top = List.copyOf(top);
        }
    }

    /** An answer without log-probabilities (not asked for, or a server that ignores the request). */
    public static final Logprobs NONE = new Logprobs(Shape.NONE, List.of(), "no logprobs");

    public Logprobs {
        Objects.requireNonNull(shape, "shape");
        positions = List.copyOf(positions);
    }

    /** Equal when they say the same: {@link #missing()} is a description, not content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Logprobs l && shape == l.shape && positions.equals(l.positions);
    }

    @Override
    public int hashCode() {
        return shape.hashCode() * 31 + positions.hashCode();
    }

    /** Whether the server returned them in either shape (an empty list of positions included). */
    public boolean returned() {
        return shape != Shape.NONE;
    }

    /** The alternatives at the first generated position; empty when there is none. */
    public List<TokenLogprob> first() {
        return positions.isEmpty() ? List.of() : positions.get(0).top();
    }

    /**
     * Reads {@code choices[0]} of a response.
     *
     * @param text the choice's generated text (what tells an immediate end from a position left unlisted)
     * @throws RemoteException the choice's {@code logprobs} is in one of the shapes but a field of it is
     *                         missing or of the wrong type (named, with its index)
     */
    static Logprobs read(JsonNode choice, String text) {
        JsonNode lp = choice.path("logprobs");
        boolean lengthCut = choice.path("finish_reason").asText("").equals("length");
        List<Raw> raw;
        Shape shape;
        if (lp.path("content").isArray()) {
            shape = Shape.CHAT;
            raw = chat(lp.path("content"));
        } else if (lp.path("tokens").isArray() || lp.path("top_logprobs").isArray()) {
            shape = Shape.COMPLETIONS;
            raw = legacy(lp);
        } else {
            return new Logprobs(Shape.NONE, List.of(), lp.isMissingNode() ? "choices[0] has no \"logprobs\" field"
                    : lp.isNull() ? "choices[0].logprobs is null"
                    : "choices[0].logprobs has neither content[] (chat shape) nor tokens[]/token_logprobs[]/"
                    + "top_logprobs[] (completions shape): " + RemoteCompletion.abbreviate(lp.toString()));
        }
        // the tokens that write nothing which this answer shows the server generating past
        Set<String> wentOn = new HashSet<>();
        for (int i = 0; i < raw.size(); i++) {
            Entry c = raw.get(i).chosen;
            if (c.writesNothing() && (i < raw.size() - 1 || lengthCut)) {
                wentOn.add(c.identity());
            }
        }
        List<Position> out = new ArrayList<>();
        for (Raw r : raw) {
            List<TokenLogprob> top = new ArrayList<>();
            List<String> seen = new ArrayList<>();
            for (Entry e : r.top) {
                add(e, wentOn, top, seen);
            }
            add(r.chosen, wentOn, top, seen);
            out.add(new Position(r.chosen.toToken(wentOn), top));
        }
        if (out.isEmpty() && !lengthCut && text.isEmpty() && choice.path("finish_reason").isTextual()) {
            // stopped before writing a token, and listed none: its most likely token was the end; how likely
            // is not said, so it is given all the mass (what a greedy server's choice bounds it by)
            TokenLogprob end = new TokenLogprob("", new byte[0], 0.0, true);
            out.add(new Position(end, List.of(end)));
        }
        return new Logprobs(shape, out, null);
    }

    /** A position's entry as listed, before its end of generation is decided. */
    private record Entry(int id, String token, byte[] bytes, double logprob) {
        boolean writesNothing() {
            return token.isEmpty() && bytes.length == 0;
        }

        /** What tells two entries apart: the server's id where it gives one, else the token's text and bytes. */
        String identity() {
            return id >= 0 ? "#" + id : token + "\u0000" + new String(bytes, StandardCharsets.ISO_8859_1);
        }

        TokenLogprob toToken(Set<String> wentOn) {
            boolean end = TokenLogprob.END_MARKERS.contains(token) || writesNothing() && !wentOn.contains(identity());
            return new TokenLogprob(token, bytes, logprob, end);
        }
    }

    private record Raw(Entry chosen, List<Entry> top) {}

    /** Adds an entry unless it is already listed (a chosen token repeats its top-list entry). */
    private static void add(Entry e, Set<String> wentOn, List<TokenLogprob> out, List<String> seen) {
        if (seen.contains(e.identity())) {
            return;
        }
        seen.add(e.identity());
        out.add(e.toToken(wentOn));
    }

    private static List<Raw> chat(JsonNode content) {
        List<Raw> out = new ArrayList<>();
        for (int i = 0; i < content.size(); i++) {
            String at = "choices[0].logprobs.content[" + i + "]";
            JsonNode p = content.get(i);
            Entry chosen = chatEntry(p, at);
            List<Entry> top = new ArrayList<>();
            JsonNode list = p.path("top_logprobs");
            if (!list.isMissingNode() && !list.isNull() && !list.isArray()) {
                throw malformed(at + ".top_logprobs", "a list", list);
            }
            for (int j = 0; j < list.size(); j++) {
                top.add(chatEntry(list.get(j), at + ".top_logprobs[" + j + "]"));
            }
            out.add(new Raw(chosen, top));
        }
        return out;
    }

    private static Entry chatEntry(JsonNode e, String at) {
        if (!e.isObject()) {
            throw malformed(at, "an object", e);
        }
        JsonNode token = e.path("token");
        if (!token.isTextual()) {
            throw malformed(at + ".token", "a string", token);
        }
        JsonNode logprob = e.path("logprob");
        if (!logprob.isNumber()) {
            throw malformed(at + ".logprob", "a number", logprob);
        }
        byte[] bytes;
        JsonNode b = e.path("bytes");
        if (b.isArray()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (JsonNode x : b) {
                if (!x.canConvertToInt() || x.asInt() < 0 || x.asInt() > 255) {
                    throw malformed(at + ".bytes", "a list of bytes (0-255)", b);
                }
                out.write(x.asInt());
            }
            bytes = out.toByteArray();
        } else {
            // OpenAI writes null where a token has no byte form of its own; its text is then its bytes
            bytes = token.asText().getBytes(StandardCharsets.UTF_8);
        }
        int id = e.path("id").canConvertToInt() ? e.path("id").asInt() : -1;
        return new Entry(id, token.asText(), bytes, logprob.asDouble());
    }

    private static List<Raw> legacy(JsonNode lp) {
        JsonNode tokens = lp.path("tokens");
        JsonNode logprobs = lp.path("token_logprobs");
        JsonNode tops = lp.path("top_logprobs");
        if (!tokens.isArray()) {
            throw malformed("choices[0].logprobs.tokens", "a list (the completions shape's chosen tokens)", tokens);
        }
        if (!logprobs.isArray() || logprobs.size() != tokens.size()) {
            throw malformed("choices[0].logprobs.token_logprobs", "a list as long as tokens (" + tokens.size() + ")",
                    logprobs);
        }
        if (!tops.isMissingNode() && !tops.isNull() && (!tops.isArray() || tops.size() != tokens.size())) {
            throw malformed("choices[0].logprobs.top_logprobs", "a list as long as tokens (" + tokens.size() + ")",
                    tops);
        }
        List<Raw> out = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            String at = "choices[0].logprobs";
            if (!tokens.get(i).isTextual()) {
                throw malformed(at + ".tokens[" + i + "]", "a string", tokens.get(i));
            }
            if (!logprobs.get(i).isNumber()) {
                throw malformed(at + ".token_logprobs[" + i + "]", "a number", logprobs.get(i));
            }
            String t = tokens.get(i).asText();
            Entry chosen = new Entry(-1, t, legacyBytes(t), logprobs.get(i).asDouble());
            List<Entry> top = new ArrayList<>();
            JsonNode map = tops.path(i);
            if (!map.isMissingNode() && !map.isNull() && !map.isObject()) {
                throw malformed(at + ".top_logprobs[" + i + "]", "an object from token to log-probability", map);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNumber()) {
                    throw malformed(at + ".top_logprobs[" + i + "][\"" + e.getKey() + "\"]", "a number", e.getValue());
                }
                top.add(new Entry(-1, e.getKey(), legacyBytes(e.getKey()), e.getValue().asDouble()));
            }
            out.add(new Raw(chosen, top));
        }
        return out;
    }

    private static RemoteException malformed(String field, String expected, JsonNode got) {
        return new RemoteException(field + " should be " + expected + ", was " + (got.isMissingNode() ? "missing"
                : RemoteCompletion.abbreviate(got.toString())), false);
    }

    /** OpenAI writes a token that is part of a UTF-8 character as {@code bytes:\xNN...}. */
    static byte[] legacyBytes(String token) {
        if (!token.startsWith("bytes:")) {
            return token.getBytes(StandardCharsets.UTF_8);
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        String s = token.substring("bytes:".length());
        int i = 0;
        while (i < s.length()) {
            if (s.startsWith("\\x", i) && i + 4 <= s.length()) {
                try {
                    b.write(Integer.parseInt(s.substring(i + 2, i + 4), 16));
                    i += 4;
                    continue;
                } catch (NumberFormatException e) {
                    // not an escape: the characters themselves
                }
            }
            byte[] c = s.substring(i, i + 1).getBytes(StandardCharsets.UTF_8);
            b.write(c, 0, c.length);
            i++;
        }
        return b.toByteArray();
    }
}
