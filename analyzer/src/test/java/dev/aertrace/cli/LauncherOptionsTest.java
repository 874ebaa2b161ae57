package dev.aertrace.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The launcher script's JVM choice and {@link BenchRuns#jvmChoice} (what {@code aertrace bench} runs analyze with)
 * are the same on the same command line: the bench must measure the real command's flags. The launcher prints its
 * options with AERTRACE_PRINT_JAVA_OPTS set, before it builds or runs anything. Inputs are sparse files: their size is
 * what counts, not their bytes.
 */
class LauncherOptionsTest {
    static final Path LAUNCHER = Path.of(System.getProperty("aertrace.launcher", "../aertrace")).toAbsolutePath();

    @TempDir Path tmp;

    Path sized(String name, long bytes) throws Exception {
        Path p = tmp.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    /** The launcher's options for {@code args}, with AERTRACE_JAVA_OPTS = {@code env} (null: unset). */
    static List<String> launcher(String env, String c2Bytes, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", LAUNCHER.toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("AERTRACE_PRINT_JAVA_OPTS", "1");
        pb.environment().remove("AERTRACE_JAVA_OPTS");
        pb.environment().remove("AERTRACE_C2_BYTES");
        if (env != null) pb.environment().put("AERTRACE_JAVA_OPTS", env);
        if (c2Bytes != null) pb.environment().put("AERTRACE_C2_BYTES", c2Bytes);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), "launcher exit");
        return Arrays.asList(out.split("\\s+"));
    }

    /** Both sides agree on {@code args}; returns the options. */
    List<String> same(String env, String c2Bytes, String... args) throws Exception {
        List<String> a = List.of(args);
        List<String> java = BenchRuns.jvmChoice(env == null ? "" : env, c2Bytes, a);
        assertEquals(launcher(env, c2Bytes, a), java, "launcher and BenchRuns.jvmChoice on " + a + " with AERTRACE_JAVA_OPTS=" + env);
        return java;
    }

    static boolean c1(List<String> o) { return o.contains("-XX:TieredStopAtLevel=1"); }

    @Test
    void smallInputsRunC1AndLargeOnesTieredC2WithABoundedYoungGeneration() throws Exception {
        assertTrue(Files.isRegularFile(LAUNCHER), LAUNCHER + " not found");
        long t = BenchRuns.C2_BYTES;
        String small = sized("small.jsonl", 10_000).toString();
        String below = sized("below.jsonl", t - 1).toString();
        String at = sized("at.jsonl", t).toString();
        String half = sized("half.jsonl", t / 2).toString();
        String gzBelow = sized("below.jsonl.gz", (t - 1) / BenchRuns.GZ_WEIGHT).toString();
        String gzAt = sized("at.jsonl.gz", (t + BenchRuns.GZ_WEIGHT - 1) / BenchRuns.GZ_WEIGHT).toString();

        // the embedded trace, a small file, stdin, a directory and a missing file: C1
        assertEquals(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), same(null, null, "analyze"));
        assertTrue(c1(same(null, null, "analyze", small)));
        assertTrue(c1(same(null, null, "analyze", "-")));
        assertTrue(c1(same(null, null, "analyze", tmp.toString(), tmp.resolve("missing.jsonl").toString())));
        // the threshold, one byte either side; a .gz by its weight
        assertTrue(c1(same(null, null, "analyze", below)));
        assertEquals(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxInlineLevel=3", "-XX:FreqInlineSize=40", "-Xmn48m"),
                same(null, null, "analyze", at));
        assertTrue(c1(same(null, null, "analyze", "--format", "json", gzBelow)));
        assertFalse(c1(same(null, null, "analyze", "--format", "json", gzAt)));
        // the sum of the inputs (several files, -j), but never the report's file
        assertTrue(c1(same(null, null, "analyze", half)));
        assertFalse(c1(same(null, null, "analyze", "-j", "2", half, half)));
        assertTrue(c1(same(null, null, "analyze", "-o", at, small)));
        assertTrue(c1(same(null, null, "analyze", "--output", at, small)));
        assertFalse(c1(same(null, null, "compare", small, at)));
        // AERTRACE_C2_BYTES moves the threshold
        assertFalse(c1(same(null, "10000", "analyze", small)));
        assertTrue(c1(same(null, "10001", "analyze", small)));
        // AERTRACE_JAVA_OPTS: a JIT, collector, heap or young generation of its own is kept
        assertEquals(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"), same("-XX:TieredStopAtLevel=1", null, "analyze", at));
        assertEquals(List.of("-Xmx256m", "-XX:TieredStopAtLevel=4", "-XX:+UseSerialGC"), same("-XX:TieredStopAtLevel=4", null, "analyze", small));
        assertEquals(List.of("-Xmx1g", "-Xmn100m", "-XX:+UseG1GC", "-XX:MaxInlineLevel=3", "-XX:FreqInlineSize=40"), same("-Xmx1g -Xmn100m -XX:+UseG1GC", null, "analyze", at));
        assertEquals(List.of("-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), same(" -Xmx1g ", null, "analyze", small));
        assertEquals(List.of("-Xmx256m", "-XX:MaxInlineLevel=9", "-XX:+UseSerialGC", "-Xmn48m"), same("-XX:MaxInlineLevel=9", null, "analyze", at));
    }
}
