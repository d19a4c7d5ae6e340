package dev.blender.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * picocli and JLine are optional dependencies of blender-runtime, so an application embedding the library
 * does not get them: only the command line ({@code dev.blender.runtime.cli}) may use them. Read from the
 * compiled classes, so a fully qualified name or a lambda's captured type counts as much as an import.
 */
class CliBoundaryTest {
    private static final String CLI = "dev/blender/runtime/cli/";
    private static final List<String> CLI_ONLY = List.of("picocli/", "org/jline/");

    @Test
    void onlyTheCliPackageReferencesPicocliOrJline() throws Exception {
        Path classes = Path.of(Names.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> offenders = new ArrayList<>();
        int library = 0;
        int cli = 0;
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = classes.relativize(f).toString().replace('\\', '/');
                if (name.startsWith(CLI)) {
                    cli += references(f).isEmpty() ? 0 : 1;
                    continue;
                }
                library++;
                for (String lib : references(f)) {
                    offenders.add(name + " -> " + lib);
                }
            }
        }
        assertTrue(library > 100, "the library's classes were read from " + classes + ": " + library);
        assertTrue(cli > 0, "the reading finds the CLI's own uses of picocli, so it would find others");
        assertEquals(List.of(), offenders, "outside " + CLI + ", classes must not use the CLI's optional libraries");
    }

    /** Which of the CLI-only libraries a class file names (class names sit in its constant pool as text). */
    private static List<String> references(Path classFile) throws IOException {
        String bytes = new String(Files.readAllBytes(classFile), StandardCharsets.ISO_8859_1);
        return CLI_ONLY.stream().filter(lib -> bytes.contains(lib) || bytes.contains(lib.replace('/', '.'))).toList();
    }
}
