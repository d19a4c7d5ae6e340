package dev.blender.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's Java blocks compile against the library as it is, so that a user who copies one gets code that
 * builds. Its models are instruction models this checkout does not have, so the blocks are compiled, not run
 * (the arith models' blends, which they would run, are the pipeline tests'). A block is what a user pastes:
 * its imports, then statements, which become a method's body here; {@code blender} names the Blender the first
 * block builds, for the blocks that go on from it.
 */
class ReadmeJavaTest {
    @Test
    void theReadmesJavaBlocksCompile(@TempDir Path dir) throws IOException {
        Matcher block = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(Path.of("../README.md")));
        List<String> sources = new ArrayList<>();
        while (block.find()) {
            String name = "ReadmeBlock" + sources.size();
            List<String> lines = block.group(1).lines().toList();
            String source = lines.stream().filter(l -> l.startsWith("import ")).collect(Collectors.joining("\n"))
                    + "\n\nclass " + name + " {\n    dev.blender.runtime.pipeline.Blender blender;\n\n"
                    + "    void run() throws Exception {\n"
                    + lines.stream().filter(l -> !l.startsWith("import ")).collect(Collectors.joining("\n"))
                    + "\n    }\n}\n";
            Path file = dir.resolve(name + ".java");
            Files.writeString(file, source);
            sources.add(file.toString());
        }
        assertEquals(2, sources.size(), "the README's Java blocks: a blend, and LangChain4j");

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "tests run on a JDK");
        // surefire's forked JVM has a one-jar manifest class path; the test class path is in this property
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> args = new ArrayList<>(List.of("-proc:none", "-Xlint:none", "-d", dir.resolve("classes").toString(),
                "-cp", classPath));
        args.addAll(sources);
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int code = javac.run(null, diagnostics, diagnostics, args.toArray(String[]::new));
        assertEquals(0, code, "the README's Java does not compile against the current API:\n" + diagnostics);
        assertTrue(Files.exists(dir.resolve("classes/ReadmeBlock1.class")), diagnostics.toString());
    }
}
