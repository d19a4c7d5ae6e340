package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.natives.NativesFixtures;
import dev.blender.nativebridge.natives.NativesFixtures.Entry;
import dev.blender.nativebridge.natives.NativesRealInstallTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code blender natives install}: help, refusals as messages, and the folder as the last line of stdout. */
class NativesCommandTest {
    private static final String CPU_PIN =
            "sha512-5uCCDNqWCNfaAm8aR/Uzxbo4HBpKgNF91kCHPepKhgMgV2OAmatoefbOlMihsqCiH2Od35E/eUHQCFbfRBJuOg==";

    @TempDir
    Path tmp;

    @Test
    void helpNamesTheVariantsTheFolderAndWhatToSetAfterwards() {
        BlenderCliTest.Run r = BlenderCliTest.run("natives", "install", "--help");
        assertEquals(0, r.code(), r.err());
        for (String expected : new String[] {"VARIANT", "cpu, cuda, cuda12, vulkan", "--dir", "--npm", "tail -1",
            "BLENDER_LLAMA_LIBRARY", "~/.cache/blender", "CUDA 12", "CUDA 13", "Vulkan"}) {
            assertTrue(r.out().contains(expected), expected + " in\n" + r.out());
        }
        assertTrue(BlenderCliTest.run("--help").out().contains("natives"));
        assertTrue(BlenderCliTest.run("natives", "--help").out().contains("install"));

        BlenderCliTest.Run none = BlenderCliTest.run("natives");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("install"), none.err());
        BlenderCliTest.Run bad = BlenderCliTest.run("natives", "install", "rocm");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown natives variant 'rocm'") && bad.err().contains("cpu, cuda, cuda12, vulkan"),
                bad.err());
    }

    @Test
    void aTamperedTarballFromNpmIsRefusedWithAMessage() throws Exception {
        // the fake npm reports the real pinned integrity but serves a different tarball
        Path tarball = Files.write(tmp.resolve("evil.tgz"), NativesFixtures.tarGz(List.of(
                Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "not the real one"))));
        Path npm = NativesFixtures.fakeNpm(tmp, CPU_PIN, tarball);
        Path dest = tmp.resolve("natives");
        BlenderCliTest.Run r = BlenderCliTest.run("natives", "install", "cpu", "--dir", dest.toString(), "--npm",
                npm.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("refusing") && r.err().contains(CPU_PIN), r.err());
        assertFalse(r.err().contains("\tat "), "a message, not a stack trace: " + r.err());
        assertEquals("", r.out());
        assertFalse(Files.exists(dest));
        assertEquals(2, NativesFixtures.npmCalls(tmp).size(), "view, then pack");
    }

    @Test
    void withoutNpmItPrintsTheManualSteps() {
        Path dest = tmp.resolve("natives");
        BlenderCliTest.Run r = BlenderCliTest.run("natives", "install", "cpu", "--dir", dest.toString(), "--npm",
                tmp.resolve("no-npm").toString());
        assertEquals(2, r.code(), r.err());
        for (String expected : new String[] {"curl -fL", "linux-x64-3.22.1.tgz", CPU_PIN, "tar -xzf",
            "BLENDER_LLAMA_LIBRARY=" + dest}) {
            assertTrue(r.err().contains(expected), expected + " in\n" + r.err());
        }
    }

    @Test
    void aRealInstallPrintsTheFolderLastAndIsReusedWithoutNpm() {
        NativesRealInstallTest.assumeNpm();
        Path dest = tmp.resolve("natives");
        BlenderCliTest.Run r = BlenderCliTest.run("natives", "install", "cpu", "--dir", dest.toString());
        assertEquals(0, r.code(), r.err());
        List<String> out = r.out().lines().toList();
        assertEquals(dest.toString(), out.get(out.size() - 1));
        assertTrue(Files.isRegularFile(dest.resolve("libllama.v0.5.0.so")));
        assertTrue(r.err().contains("downloading @node-llama-cpp/") && r.err().contains("export BLENDER_LLAMA_LIBRARY="
                + dest), r.err());
        assertFalse(r.err().contains("\r"), "no progress redraws when stderr is not a terminal: " + r.err());

        BlenderCliTest.Run again = BlenderCliTest.run("natives", "install", "cpu", "--dir", dest.toString(), "--npm",
                tmp.resolve("no-npm").toString());
        assertEquals(0, again.code(), again.err());
        List<String> out2 = again.out().lines().toList();
        assertEquals(dest.toString(), out2.get(out2.size() - 1));
        assertTrue(again.err().contains("already installed"), again.err());
    }
}
