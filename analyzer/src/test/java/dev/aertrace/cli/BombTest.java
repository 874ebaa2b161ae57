package dev.aertrace.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The memory and time bombs of issue 10, generated here (nothing big is committed) at a size that runs in
 * seconds, each through {@code analyze --format json} in a JVM of its own with the launcher's heap (-Xmx256m),
 * so running out of memory fails the test instead of hiding in the test JVM's larger heap. Each must end with
 * exit 3 (inconclusive), name the problem, and write a report bounded by its input. The full sizes (issue 10:
 * 5 M junk lines, 100 k recoveries, 1 M threads, 10 k open recoveries) are timed by hand in analyzer/README.md.
 * {@code -Daertrace.bomb.scale=10} runs them at full size.
 */
class BombTest {
    @TempDir Path tmp;

    static final int SCALE = Integer.getInteger("aertrace.bomb.scale", 1);

    static String ev(String type, long ts, int tid, String extra) {
        return "{\"type\":\"" + type + "\",\"ts\":" + ts + ",\"cpu\":0,\"pid\":" + tid + ",\"tid\":" + tid
                + ",\"comm\":\"c\",\"dev\":\"0000:01:00.0\"" + extra + "}\n";
    }

    static final String HEADER = "{\"type\":\"header\",\"schema_version\":1}\n";
    static final String READ = ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false";
    static final String READ_EXIT = READ + ",\"ret\":2,\"value\":7";

    record Run(int code, long millis, long reportBytes, String report, String err) {}

    /** {@code aertrace analyze --format json} in a fresh JVM with the launcher's heap limit. */
    Run analyze(Path trace) throws Exception {
        Path report = tmp.resolve(trace.getFileName() + ".json");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), "dev.aertrace.cli.Main",
                "analyze", "--format", "json", "-o", report.toString(), trace.toString()));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("err.txt").toFile()).start();
        int code = p.waitFor();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        long bytes = Files.exists(report) ? Files.size(report) : -1;
        // Only the head of the report is read: the test checks its size, not its whole text.
        String head = "";
        if (bytes > 0) try (var in = java.nio.channels.FileChannel.open(report)) {
            // the episodes (the first 4 MB) and the sources with their issues (the last 1 MB)
            java.nio.ByteBuffer a = java.nio.ByteBuffer.allocate((int) Math.min(bytes, 4 << 20));
            in.read(a, 0);
            long tail = Math.max(a.capacity(), bytes - (1 << 20));
            java.nio.ByteBuffer z = java.nio.ByteBuffer.allocate((int) (bytes - tail));
            in.read(z, tail);
            head = new String(a.array(), StandardCharsets.UTF_8) + new String(z.array(), StandardCharsets.UTF_8);
        }
        Run r = new Run(code, ms, bytes, head, Files.readString(tmp.resolve("err.txt")));
        System.out.printf("bomb %s: %d bytes in, exit %d in %d ms, report %d bytes%n", trace.getFileName(),
                Files.size(trace), code, ms, bytes);
        return r;
    }

    static void assertInconclusiveAndNamed(Run r, String issue) {
        assertEquals(3, r.code(), r.err() + r.report().substring(0, Math.min(2000, r.report().length())));
        assertTrue(r.report().contains("\"" + issue + "\""), "no issue " + issue + " in the report");
        assertFalse(java.util.regex.Pattern.compile("\"outcome\"\\s*:\\s*\"(race|clean)\"").matcher(r.report()).find(),
                "a confident outcome on a bomb");
    }

    @Test
    void oneRecoveryThenJunkInASmallGzip() throws Exception {
        // issue 10: 5 M junk lines after one recovery.enter in a 10 KB gzip grew the gap list to 5 GB.
        int lines = 500_000 * SCALE;
        Path f = tmp.resolve("junk.jsonl.gz");
        try (Writer w = new BufferedWriter(new OutputStreamWriter(new GZIPOutputStream(Files.newOutputStream(f)), StandardCharsets.UTF_8))) {
            w.write(HEADER);
            w.write(ev("recovery.enter", 1000, 53, ""));
            for (int i = 0; i < lines; i++) w.write("garbage\n");
        }
        assertTrue(Files.size(f) < 100_000, "the bomb is a small file: " + Files.size(f));
        Run r = analyze(f);
        assertInconclusiveAndNamed(r, "corrupt-line");
        assertTrue(r.reportBytes() < 400_000, "report of " + r.reportBytes() + " bytes");
    }

    @Test
    void recoveriesThatNeverCloseThenUserReads() throws Exception {
        // issue 10: 100 k recoveries that never close took 218 s, > 600 s and 6 GB with user reads after them.
        int n = 10_000 * SCALE;
        Path f = tmp.resolve("open.jsonl");
        try (Writer w = Files.newBufferedWriter(f)) {
            w.write(HEADER);
            for (int i = 0; i < n; i++) w.write(ev("recovery.enter", 1000 + i * 10L, 100_000 + i, ""));
            for (int i = 0; i < n; i++) {
                long ts = 2_000_000 + i * 10L;
                w.write(ev("vfio.rw.enter", ts, 7, READ));
                w.write(ev("vfio.rw.exit", ts + 5, 7, READ_EXIT));
            }
        }
        Run r = analyze(f);
        assertInconclusiveAndNamed(r, "bound");
        // every recovery is judged and counted, the first MAX_REPORTED written in full (each access in at most
        // MAX_COPIES of them), the rest named by their count: the report no longer grows with the episodes
        // (at full size it was 818 MB from 41 MB)
        assertTrue(r.report().replace(" ", "").contains("\"unreported_episodes\":" + (n - dev.aertrace.report.Totals.MAX_REPORTED)),
                "the episodes not written are counted in the summary");
        assertTrue(r.report().replace(" ", "").contains("\"episodes\":" + n), "every episode counted");
        assertTrue(r.reportBytes() < 16L << 20, "report of " + r.reportBytes() + " bytes from " + Files.size(f));
    }

    @Test
    void manyEpisodesAreCountedNotWrittenPastTheCap() throws Exception {
        // The report bound on its own: 3,000 short, clean recoveries (each closes) make 3,000 episodes; the first
        // 1,000 are written, the rest counted, and the result is not clean (exit 3), with the count in text too.
        int n = 3 * dev.aertrace.report.Totals.MAX_REPORTED;
        Path f = tmp.resolve("many.jsonl");
        try (Writer w = Files.newBufferedWriter(f)) {
            w.write(HEADER);
            for (int i = 0; i < n; i++) {
                long t = 1_000_000_000L + i * 5_000_000_000L;
                w.write(ev("recovery.enter", t, 53, ",\"state\":1"));
                w.write(ev("recovery.exit", t + 1000, 53, ",\"ret\":5"));
            }
            w.write("{\"type\":\"footer\",\"ts\":" + (1_000_000_000L + n * 5_000_000_000L) + ",\"events\":" + 2 * n + ",\"lost\":0}\n");
        }
        Run r = analyze(f);
        assertEquals(3, r.code(), r.err());
        assertTrue(r.report().replace(" ", "").contains("\"unreported_episodes\":" + (n - dev.aertrace.report.Totals.MAX_REPORTED)), "counted");
        assertEquals(dev.aertrace.report.Totals.MAX_REPORTED, r.report().split("\"outcome\"", -1).length - 1, "written in full");
        Path out = tmp.resolve("many.txt");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-cp",
                System.getProperty("java.class.path"), "dev.aertrace.cli.Main", "analyze", f.toString())
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertEquals(3, p.waitFor());
        String text = Files.readString(out);
        assertTrue(text.contains("bound: " + (n - dev.aertrace.report.Totals.MAX_REPORTED) + " episodes after the first"), text.substring(Math.max(0, text.length() - 800)));
    }

    @Test
    void manyThreadsWithOpenAccessesAfterARecovery() throws Exception {
        // issue 10: 1 M threads with open accesses took > 300 s (every event walked every thread). The reads start
        // inside the settle window and go on past it, so the window stays held open by them while time passes.
        int n = 100_000 * SCALE;
        Path f = tmp.resolve("threads.jsonl");
        try (Writer w = Files.newBufferedWriter(f)) {
            w.write(HEADER);
            w.write(ev("recovery.enter", 1000, 53, ""));
            w.write(ev("recovery.exit", 2000, 53, ",\"ret\":5"));
            for (int i = 0; i < n; i++) w.write(ev("vfio.rw.enter", 1_000_000_000L + i * 100_000L / SCALE, 1000 + i, READ));
        }
        Run r = analyze(f);
        assertInconclusiveAndNamed(r, "bound");
        assertTrue(r.reportBytes() < 4L * Files.size(f), "report of " + r.reportBytes() + " bytes from " + Files.size(f));
    }

    @Test
    void manyOpenRecoveriesShareEveryRead() throws Exception {
        // issue 10: 10 k open recoveries and 1,000 reads: each read copied into every episode, a 3.4 GB report from
        // 1.5 MB. Full size here: it is small.
        Path f = tmp.resolve("shared.jsonl");
        try (Writer w = Files.newBufferedWriter(f)) {
            w.write(HEADER);
            for (int i = 0; i < 10_000; i++) w.write(ev("recovery.enter", 1000 + i, 100_000 + i, ""));
            for (int i = 0; i < 1000; i++) {
                long ts = 200_000 + i * 10L;
                w.write(ev("vfio.rw.enter", ts, 7, READ));
                w.write(ev("vfio.rw.exit", ts + 5, 7, READ_EXIT));
            }
        }
        Run r = analyze(f);
        assertInconclusiveAndNamed(r, "bound");
        assertTrue(r.reportBytes() < 40L * Files.size(f), "report of " + r.reportBytes() + " bytes from " + Files.size(f));
    }
}
