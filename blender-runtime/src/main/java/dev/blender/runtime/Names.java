package dev.blender.runtime;

import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The one spelling rule for names users type: strategies and compositions, stages and their settings,
 * combine and merge methods, answer checkers. Case, {@code -} and {@code _} do not tell names apart, so
 * {@code full-blend}, {@code FULL_BLEND}, {@code Full_Blend} and {@code fullblend} are one name; what blender
 * prints is the {@linkplain #id canonical spelling}, lower case with {@code -}. Stateless and thread-safe.
 */
public final class Names {
    private Names() {}

    /** The spelling blender prints and documents: {@code FULL_BLEND} is {@code full-blend}. */
    public static String id(String name) {
        return name.strip().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** An enum constant's printed name: {@code LOG_LINEAR} is {@code log-linear}. */
    public static String id(Enum<?> constant) {
        return id(constant.name());
    }

    /** What two spellings of one name have in common: lower case, no {@code -} nor {@code _}. */
    public static String key(String name) {
        return name.strip().toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
    }

    /** Whether two spellings name the same thing. */
    public static boolean same(String a, String b) {
        return key(a).equals(key(b));
    }

    /** The one of {@code names} that {@code text} spells, in the spelling {@code names} has it. */
    public static Optional<String> find(Collection<String> names, String text) {
        Objects.requireNonNull(text, "name");
        String want = key(text);
        return names.stream().filter(n -> key(n).equals(want)).findFirst();
    }

    /** The constant of {@code type} that {@code text} spells. */
    public static <E extends Enum<E>> Optional<E> find(Class<E> type, String text) {
        Objects.requireNonNull(text, "name");
        String want = key(text);
        return Arrays.stream(type.getEnumConstants()).filter(e -> key(e.name()).equals(want)).findFirst();
    }

    /**
     * The constant of {@code type} that {@code text} spells ({@code max-logits}, {@code MAX_LOGITS},
     * {@code maxlogits}).
     *
     * @param what the setting, for the message ({@code "rank: aggregation"})
     * @throws IllegalArgumentException naming {@code what} and the constants' printed names
     */
    public static <E extends Enum<E>> E constant(Class<E> type, String text, String what) {
        return find(type, text).orElseThrow(() -> new IllegalArgumentException(what + " '" + text + "' is not one of "
                + Arrays.stream(type.getEnumConstants()).map(Names::id).toList()));
    }
}
