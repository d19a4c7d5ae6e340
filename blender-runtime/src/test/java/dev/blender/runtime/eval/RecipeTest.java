package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecipeTest {
    static Recipe parse(String eval) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        return Recipe.fromJson(new ObjectMapper().readTree("{\"models\": [{\"path\": \"answerer-a.gguf\"}], \"eval\": "
                + eval + "}"), models, "test");
    }

    @Test
    void groupsAreReadInOrderAndBadOnesAreNamed() throws Exception {
        Recipe r = parse("{\"groups\": {\"sub\": \"-\", \"add\": \"\\\\+\"}}");
        assertEquals(List.of("sub", "add"), List.copyOf(r.groups().keySet()));
        assertTrue(r.groups().get("add").matcher("12+3=").find());
        assertTrue(parse("{}").groups().isEmpty());

        IllegalArgumentException notRegex = assertThrows(IllegalArgumentException.class,
                () -> parse("{\"groups\": {\"add\": \"(+\"}}"));
        assertTrue(notRegex.getMessage().contains("eval.groups.add is not a regular expression"), notRegex.getMessage());
        IllegalArgumentException notObject = assertThrows(IllegalArgumentException.class,
                () -> parse("{\"groups\": [\"+\"]}"));
        assertTrue(notObject.getMessage().contains("eval.groups must be an object"), notObject.getMessage());
        IllegalArgumentException notText = assertThrows(IllegalArgumentException.class,
                () -> parse("{\"groups\": {\"add\": 1}}"));
        assertTrue(notText.getMessage().contains("eval.groups.add must be a regular expression"), notText.getMessage());
    }
}
