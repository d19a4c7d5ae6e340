package dev.blender.runtime.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Typed reads of the fields of a JSON object, the one way configuration files, compositions and recipes
 * read them. Jackson's {@code asInt()}/{@code asDouble()} turn a wrong type into 0 or false, which in a
 * configuration silently means something else ({@code "temperature": "hot"} would be greedy), so every read
 * here checks the type and its error names the field by its path ({@code models[1].threads}) and shows the
 * value it was given. Each read returns null where the field is absent, for the caller's default.
 */
public final class JsonFields {
    private JsonFields() {}

    /** The path of {@code key} inside the object at {@code path} ({@code ""} for the root). */
    public static String at(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The path of element {@code i} of the array at {@code path}. */
    public static String at(String path, int i) {
        return path + "[" + i + "]";
    }

    /**
     * Refuses a key of {@code node} that is not {@code known}.
     *
     * @param where what the object is, for the message ({@code models[0]}, {@code the configuration})
     */
    public static void keys(JsonNode node, String where, Collection<String> known) {
        node.fieldNames().forEachRemaining(k -> {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' in " + where + " (known: "
                        + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        });
    }

    /** An int-sized whole number ({@code 3}, not {@code 3.5} or {@code "3"}). */
    public static Integer whole(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrong(path, key, "a whole number", v);
        }
        return v.intValue();
    }

    /** A long-sized whole number. */
    public static Long wholeLong(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrong(path, key, "a whole number", v);
        }
        return v.longValue();
    }

    /** Any number. */
    public static Double number(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isNumber()) {
            throw wrong(path, key, "a number", v);
        }
        return v.doubleValue();
    }

    /** A string. */
    public static String text(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw wrong(path, key, "a string", v);
        }
        return v.textValue();
    }

    /** {@code true} or {@code false}; a string "yes" or a number is an error, never a silent false. */
    public static Boolean flag(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            throw wrong(path, key, "true or false", v);
        }
        return v.booleanValue();
    }

    /** An array of strings. */
    public static List<String> strings(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        return v == null ? null : strings(v, at(path, key));
    }

    /** {@code array}, the value at {@code path}, as a list of strings. */
    public static List<String> strings(JsonNode array, String path) {
        if (!array.isArray()) {
            throw new IllegalArgumentException(path + " must be an array of strings, was " + array);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            if (!n.isTextual()) {
                throw new IllegalArgumentException(path + " must be an array of strings, has " + n);
            }
            out.add(n.textValue());
        }
        return out;
    }

    /** An object (returned as the node itself). */
    public static JsonNode object(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isObject()) {
            throw wrong(path, key, "an object", v);
        }
        return v;
    }

    private static IllegalArgumentException wrong(String path, String key, String type, JsonNode was) {
        return new IllegalArgumentException(at(path, key) + " must be " + type + ", was " + was);
    }
}
