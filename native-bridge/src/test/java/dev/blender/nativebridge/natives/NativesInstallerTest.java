package dev.blender.nativebridge.natives;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.natives.NativesFixtures.Entry;
import dev.blender.nativebridge.natives.NativesFixtures.Served;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Installing natives through a fake npm: integrity checks, atomic and idempotent installs, clear refusals. */
class NativesInstallerTest {
    @TempDir
    Path tmp;

    private static final List<Entry> FAKE_PACKAGE = List.of(
            Entry.file("package/package.json", "{}"),
            Entry.file("package/bins/linux-x64/_nlcBuildMetadata.json", "{}"),
            Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "llama"),
            Entry.file("package/bins/linux-x64/libggml.v0.5.0.so", "ggml"),
            Entry.file("package/bins/linux-x64/libggml-base.so", "base"),
            Entry.file("package/bins/linux-x64/llama-addon.node", "addon"));

    /** A fake tarball, its pinned package and a fake npm serving {@code served} (the tarball itself by default). */
    private record Fake(Path npm, NpmPackage pkg, Path npmDir) {
        NativesInstaller installer(List<String> steps) {
            return new NativesInstaller(npm.toString(), steps::add, v -> List.of(pkg));
        }
    }

    private Fake fake(String name, byte[] served, String registryIntegrity) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("npm-" + name));
        Path good = Files.write(dir.resolve("good.tgz"), NativesFixtures.tarGz(FAKE_PACKAGE));
        Path servedFile = served == null ? good : Files.write(dir.resolve("served.tgz"), served);
        String pin = NativesInstaller.sha512(good);
        NpmPackage pkg = new NpmPackage("@node-llama-cpp/linux-x64", pin, Files.size(good), "package/bins/linux-x64/",
                Set.of());
        return new Fake(NativesFixtures.fakeNpm(dir, registryIntegrity == null ? pin : registryIntegrity, servedFile),
                pkg, dir);
    }

    private Fake fake() throws IOException {
        return fake("good", null, null);
    }

    @Test
    void installsOnlyTheLibrariesAndReusesACompleteInstallWithoutNpm() throws Exception {
        Fake f = fake();
        Path dest = tmp.resolve("natives/cpu");
        List<String> steps = new ArrayList<>();
        Installation first = f.installer(steps).install(Variant.CPU, dest);

        assertFalse(first.reused());
        assertEquals(dest, first.dir());
        assertEquals(dest.resolve("libllama.v0.5.0.so"), first.library());
        try (Stream<Path> files = Files.list(dest)) {
            assertEquals(Set.of("_nlcBuildMetadata.json", "libllama.v0.5.0.so", "libggml.v0.5.0.so", "libggml-base.so",
                    NativesInstaller.MARKER), Set.copyOf(files.map(p -> p.getFileName().toString()).toList()));
        }
        assertEquals(List.of("view @node-llama-cpp/linux-x64@3.22.1 dist.integrity", "pack @node-llama-cpp/linux-x64@3.22.1"),
                NativesFixtures.npmCalls(f.npmDir()));
        assertTrue(steps.stream().anyMatch(s -> s.startsWith("downloading @node-llama-cpp/linux-x64@3.22.1")), steps.toString());
        assertNoLeftovers(dest.getParent());

        // a second install finds the complete folder and never runs npm (here: one that does not exist)
        NativesInstaller noNpm = new NativesInstaller(tmp.resolve("no-npm").toString(), null, v -> List.of(f.pkg()));
        Installation again = noNpm.install(Variant.CPU, dest);
        assertTrue(again.reused());
        assertEquals(first.library(), again.library());

        // a damaged install is not trusted: it is replaced by a fresh one
        Files.writeString(dest.resolve("libggml-base.so"), "bas");
        Installation repaired = f.installer(new ArrayList<>()).install(Variant.CPU, dest);
        assertFalse(repaired.reused());
        assertEquals("base", Files.readString(dest.resolve("libggml-base.so")));
        assertEquals(4, NativesFixtures.npmCalls(f.npmDir()).size());
        assertNoLeftovers(dest.getParent());
    }

    @Test
    void aTamperedTarballIsRefused() throws Exception {
        List<Entry> evil = new ArrayList<>(FAKE_PACKAGE);
        evil.set(2, Entry.file("package/bins/linux-x64/libllama.v0.5.0.so", "llama with a backdoor"));
        Fake f = fake("tampered", NativesFixtures.tarGz(evil), null);
        Path dest = tmp.resolve("dest");
        NativesException e = assertThrows(NativesException.class,
                () -> f.installer(new ArrayList<>()).install(Variant.CPU, dest));
        assertTrue(e.getMessage().contains("refusing") && e.getMessage().contains(f.pkg().integrity()), e.getMessage());
        assertTrue(e.getMessage().contains(NativesInstaller.sha512(f.npmDir().resolve("served.tgz"))), e.getMessage());
        assertFalse(Files.exists(dest), "nothing installed");
        assertNoLeftovers(tmp);
    }

    @Test
    void aRegistryIntegrityOtherThanThePinIsRefusedBeforeDownloading() throws Exception {
        Fake f = fake("other", null, "sha512-AAAA");
        NativesException e = assertThrows(NativesException.class,
                () -> f.installer(new ArrayList<>()).install(Variant.CPU, tmp.resolve("dest")));
        assertTrue(e.getMessage().contains("sha512-AAAA") && e.getMessage().contains("pins " + f.pkg().integrity()),
                e.getMessage());
        assertEquals(List.of("view @node-llama-cpp/linux-x64@3.22.1 dist.integrity"), NativesFixtures.npmCalls(f.npmDir()),
                "npm pack never ran");
    }

    @Test
    void withoutNpmTheMessageListsTheManualSteps() {
        Path dest = tmp.resolve("natives");
        NativesException e = assertThrows(NativesException.class,
                () -> new NativesInstaller(tmp.resolve("no-such-npm").toString(), null).install(Variant.CPU, dest));
        String m = e.getMessage();
        NpmPackage cpu = Variant.CPU.packages().get(0);
        for (String expected : new String[] {"no-such-npm", "-Dblender.npm", "curl -fL -o " + cpu.tarballName() + " "
                + cpu.tarballUrl(), "npm pack " + cpu.spec(), cpu.integrity(), "openssl dgst -sha512",
            "tar -xzf " + cpu.tarballName() + " -C " + dest, "BLENDER_LLAMA_LIBRARY=" + dest}) {
            assertTrue(m.contains(expected), expected + " in\n" + m);
        }
        assertFalse(Files.exists(dest));
    }

    @Test
    void aFolderThatIsNotAnInstallIsNeverOverwritten() throws Exception {
        Fake f = fake();
        Path dest = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(dest.resolve("notes.txt"), "keep me");
        NativesException e = assertThrows(NativesException.class,
                () -> f.installer(new ArrayList<>()).install(Variant.CPU, dest));
        assertTrue(e.getMessage().contains("not an install of blender natives"), e.getMessage());
        assertEquals("keep me", Files.readString(dest.resolve("notes.txt")));
        assertEquals(List.of(), NativesFixtures.npmCalls(f.npmDir()), "refused before downloading");

        // an empty folder is fine
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertTrue(Files.isRegularFile(f.installer(new ArrayList<>()).install(Variant.CPU, empty).library()));
    }

    @Test
    void concurrentInstallsIntoOneFolderAllSucceed() throws Exception {
        Fake f = fake();
        Path dest = tmp.resolve("shared/cpu");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Installation>> runs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                runs.add(pool.submit(() -> f.installer(Collections.synchronizedList(new ArrayList<>()))
                        .install(Variant.CPU, dest)));
            }
            for (Future<Installation> r : runs) {
                assertEquals("llama", Files.readString(r.get().library()));
            }
        } finally {
            pool.shutdown();
        }
        assertNoLeftovers(dest.getParent());
    }

    @Test
    void cuda12IsTheCudaPackageWithTheCuda12BackendOfTheExtPackage() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("npm-cuda"));
        Path cuda = Files.write(dir.resolve("cuda.tgz"), NativesFixtures.tarGz(List.of(
                Entry.file("package/bins/linux-x64-cuda/libllama.cuda.v0.5.0.so", "llama"),
                Entry.file("package/bins/linux-x64-cuda/libggml-cuda.so", "built for CUDA 13"),
                Entry.file("package/bins/linux-x64-cuda/libggml-cpu-haswell.so", "cpu"))));
        Path ext = Files.write(dir.resolve("ext.tgz"), NativesFixtures.tarGz(List.of(
                Entry.file("package/bins/linux-x64-cuda/fallback/libggml-cuda.so", "built for CUDA 12"))));
        // the real packages' layout, pinned to these two fakes
        List<NpmPackage> real = Variant.CUDA12.packages("Linux", "amd64");
        List<NpmPackage> pinned = List.of(pinnedTo(real.get(0), cuda), pinnedTo(real.get(1), ext));
        Path npm = NativesFixtures.fakeNpm(dir, Map.of(
                pinned.get(0).spec(), new Served(pinned.get(0).integrity(), cuda),
                pinned.get(1).spec(), new Served(pinned.get(1).integrity(), ext)));
        Installation inst = new NativesInstaller(npm.toString(), null, v -> pinned).install(Variant.CUDA12, tmp.resolve("c"));

        assertEquals(tmp.resolve("c/libllama.cuda.v0.5.0.so"), inst.library());
        assertEquals("built for CUDA 12", Files.readString(tmp.resolve("c/libggml-cuda.so")));
        assertEquals("cpu", Files.readString(tmp.resolve("c/libggml-cpu-haswell.so")));
        assertEquals(List.of("view @node-llama-cpp/linux-x64-cuda@3.22.1 dist.integrity",
                "pack @node-llama-cpp/linux-x64-cuda@3.22.1", "view @node-llama-cpp/linux-x64-cuda-ext@3.22.1 dist.integrity",
                "pack @node-llama-cpp/linux-x64-cuda-ext@3.22.1"), NativesFixtures.npmCalls(dir));
    }

    private static NpmPackage pinnedTo(NpmPackage p, Path tarball) throws IOException {
        return new NpmPackage(p.name(), NativesInstaller.sha512(tarball), Files.size(tarball), p.binsDir(), p.skip());
    }

    @Test
    void aFailingNpmIsReportedWithItsOutputAndTheTarballUrl() throws Exception {
        Fake f = fake();
        Path npm = NativesFixtures.fakeNpm(f.npmDir(), Map.of("@other/package@1.0.0", new Served("sha512-x", tmp)));
        NativesException e = assertThrows(NativesException.class, () -> new NativesInstaller(npm.toString(), null,
                v -> List.of(f.pkg())).install(Variant.CPU, tmp.resolve("dest")));
        assertTrue(e.getMessage().contains("npm view @node-llama-cpp/linux-x64@3.22.1 dist.integrity failed (exit 1)")
                && e.getMessage().contains("npm error 404") && e.getMessage().contains(f.pkg().tarballUrl()),
                e.getMessage());
    }

    @Test
    void platformsWithoutPrebuiltNativesAreRefused() {
        assertEquals("@node-llama-cpp/linux-arm64", Variant.CPU.packages("Linux", "aarch64").get(0).name());
        assertEquals("@node-llama-cpp/linux-x64", Variant.CPU.packages("Linux", "amd64").get(0).name());
        assertEquals(List.of("@node-llama-cpp/linux-x64-cuda", "@node-llama-cpp/linux-x64-cuda-ext"),
                Variant.CUDA12.packages("Linux", "amd64").stream().map(NpmPackage::name).toList());
        assertEquals(Set.of("libggml-cuda.so"), Variant.CUDA12.packages("Linux", "amd64").get(0).skip(),
                "cuda12 takes its CUDA backend from the -ext package");
        NativesException arm = assertThrows(NativesException.class, () -> Variant.CUDA.packages("Linux", "aarch64"));
        assertTrue(arm.getMessage().contains("cuda") && arm.getMessage().contains("aarch64"), arm.getMessage());
        NativesException mac = assertThrows(NativesException.class, () -> Variant.CPU.packages("Mac OS X", "aarch64"));
        assertTrue(mac.getMessage().contains("Mac OS X") && mac.getMessage().contains("BLENDER_LLAMA_LIBRARY"),
                mac.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> Variant.parse("rocm"));
        assertTrue(unknown.getMessage().contains("cpu, cuda, cuda12, vulkan"), unknown.getMessage());
        assertEquals(Variant.CUDA12, Variant.parse("CUDA12"));
    }

    @Test
    void theDefaultFolderIsUnderTheCache() {
        String old = System.getProperty("blender.cache.dir");
        System.setProperty("blender.cache.dir", tmp.toString());
        try {
            assertEquals(tmp.resolve("natives/vulkan-3.22.1"), NativesInstaller.defaultDir(Variant.VULKAN));
        } finally {
            if (old == null) {
                System.clearProperty("blender.cache.dir");
            } else {
                System.setProperty("blender.cache.dir", old);
            }
        }
    }

    /** No temporary folder is left beside an install. */
    private static void assertNoLeftovers(Path parent) throws IOException {
        try (Stream<Path> files = Files.list(parent)) {
            List<String> hidden = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".partial-") || n.contains(".old-")).toList();
            assertEquals(List.of(), hidden);
        }
    }
}
