package dev.blender.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.BlendService;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Cancellation;
import dev.blender.runtime.pipeline.Completion;
import dev.blender.runtime.pipeline.Message;
import dev.blender.runtime.pipeline.ModelPool;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The types a user embeds blender through speak the library's terms: no signature a caller can reach (public
 * or protected methods, constructors, fields, record components, supertypes, of the type and its public
 * nested types) names a type of the native bridge or of Jackson, so that neither is part of the API to learn
 * nor to keep stable.
 */
class PublicSurfaceTest {
    private static final List<String> LOWER_LAYERS = List.of("dev.blender.nativebridge.", "com.fasterxml.jackson.");

    private static final List<Class<?>> SURFACE = List.of(Blender.class, BlendService.class, BlendRequest.class,
            BlendResult.class, BlendListener.class, Message.class, Cancellation.class, Completion.class);

    @Test
    void theUsersTypesNameNothingOfTheBridgeOrJackson() {
        List<String> leaks = new ArrayList<>();
        for (Class<?> c : SURFACE) {
            leaks.addAll(leaks(c));
        }
        assertEquals(List.of(), leaks);
    }

    /** The check sees a leak where there is one: the pool's lease hands out a bridge context. */
    @Test
    void aLowerLayerTypeInASignatureIsFound() {
        List<String> leaks = leaks(ModelPool.class);
        assertTrue(leaks.stream().anyMatch(l -> l.contains("context()") && l.contains("LlamaContext")), leaks.toString());
    }

    /** The type's reachable signatures that name a lower layer, one line each. */
    private static List<String> leaks(Class<?> type) {
        List<String> out = new ArrayList<>();
        for (Class<?> c : withNested(type)) {
            check(out, c.getName() + " extends", c.getGenericSuperclass());
            for (Type t : c.getGenericInterfaces()) {
                check(out, c.getName() + " implements", t);
            }
            if (c.isRecord()) {
                for (RecordComponent rc : c.getRecordComponents()) {
                    check(out, c.getName() + "." + rc.getName() + " (component)", rc.getGenericType());
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (reachable(f.getModifiers())) {
                    check(out, c.getName() + "." + f.getName(), f.getGenericType());
                }
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (reachable(k.getModifiers())) {
                    executable(out, c.getName() + ".<init>", k);
                }
            }
            for (Method m : c.getDeclaredMethods()) {
                if (reachable(m.getModifiers()) && !m.isSynthetic()) {
                    executable(out, c.getName() + "." + m.getName() + "()", m);
                    check(out, c.getName() + "." + m.getName() + "() returns", m.getGenericReturnType());
                }
            }
        }
        return out;
    }

    private static void executable(List<String> out, String where, Executable e) {
        for (Type p : e.getGenericParameterTypes()) {
            check(out, where + " takes", p);
        }
        for (Type x : e.getGenericExceptionTypes()) {
            check(out, where + " throws", x);
        }
    }

    private static boolean reachable(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    /** The type and its public or protected nested types, at any depth. */
    private static List<Class<?>> withNested(Class<?> type) {
        List<Class<?>> all = new ArrayList<>(List.of(type));
        for (int i = 0; i < all.size(); i++) {
            for (Class<?> n : all.get(i).getDeclaredClasses()) {
                if (reachable(n.getModifiers())) {
                    all.add(n);
                }
            }
        }
        return all;
    }

    private static void check(List<String> out, String where, Type t) {
        Set<String> named = new HashSet<>();
        names(t, named, new HashSet<>());
        named.stream().filter(n -> LOWER_LAYERS.stream().anyMatch(n::startsWith)).sorted()
                .forEach(n -> out.add(where + ": " + n));
    }

    private static void names(Type t, Set<String> into, Set<Type> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        switch (t) {
            case Class<?> c -> into.add(c.isArray() ? c.getComponentType().getName() : c.getName());
            case ParameterizedType p -> {
                names(p.getRawType(), into, seen);
                for (Type a : p.getActualTypeArguments()) {
                    names(a, into, seen);
                }
            }
            case GenericArrayType g -> names(g.getGenericComponentType(), into, seen);
            case WildcardType w -> {
                for (Type b : w.getUpperBounds()) {
                    names(b, into, seen);
                }
                for (Type b : w.getLowerBounds()) {
                    names(b, into, seen);
                }
            }
            case TypeVariable<?> v -> {
                for (Type b : v.getBounds()) {
                    names(b, into, seen);
                }
            }
            default -> into.add(t.getTypeName());
        }
    }
}
