package dev.aertrace.kernellog;

import dev.aertrace.cli.Main;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.timeline.Episode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Hand-written kernel logs: the real 6.1 non-fatal recovery from testdata/lab/kmsg/6.1/nonfatal.dmesg.gz (lines
 * 424-429) rewritten in every format the reader takes, which must all give the same episode; and bad or foreign
 * logs, which must give a clear answer with line numbers, never an exception.
 */
class KernelLogFormatsTest {
    /** seconds since boot (µs), message: the real lines. */
    static final Object[][] REAL = {
            {165_978_293L, "pcieport 0000:00:02.0: AER: Uncorrected (Non-Fatal) error message received from 0000:01:00.0"},
            {165_979_873L, "vfio-pci 0000:01:00.0: PCIe Bus Error: severity=Uncorrected (Non-Fatal), type=Transaction Layer, (Receiver ID)"},
            {165_994_408L, "vfio-pci 0000:01:00.0:   device [1af4:1041] error status/mask=00001000/00000000"},
            {165_994_836L, "vfio-pci 0000:01:00.0:    [12] TLP                    (First)"},
            {165_995_881L, "vfio-pci 0000:01:00.0: AER:   TLP Header: 00000000 00000000 00000000 00000000"},
            {166_036_064L, "pcieport 0000:00:02.0: AER: device recovery successful"},
    };
    /** Boot time in the wall-clock renderings: 2026-12-01T22:41:00Z. */
    static final long BOOT_EPOCH_S = 1_796_164_860L;

    static String secs(long us) { return String.format("%5d.%06d", us / 1_000_000, us % 1_000_000); }

    static String wall(long us, String pattern) {
        java.time.LocalDateTime t = java.time.LocalDateTime.ofEpochSecond(BOOT_EPOCH_S + us / 1_000_000,
                (int) (us % 1_000_000) * 1000, java.time.ZoneOffset.UTC);
        return t.format(java.time.format.DateTimeFormatter.ofPattern(pattern, java.util.Locale.ROOT));
    }

    static String render(Function<Object[], String> f, String... noise) {
        StringBuilder sb = new StringBuilder();
        for (String n : noise) sb.append(n).append('\n');
        for (Object[] l : REAL) sb.append(f.apply(l)).append('\n');
        return sb.toString();
    }

    /** format name → (log text, clock resolution in ns). */
    static Map<String, Object[]> renderings() {
        Map<String, Object[]> m = new LinkedHashMap<>();
        m.put("dmesg", new Object[] {render(l -> "[" + secs((long) l[0]) + "] " + l[1],
                "[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3"), 1000L});
        m.put("dmesg -r", new Object[] {render(l -> "<6>[" + secs((long) l[0]) + "] " + l[1]), 1000L});
        m.put("dmesg -x", new Object[] {render(l -> "kern  :info  : [" + secs((long) l[0]) + "] " + l[1]), 1000L});
        m.put("console capture", new Object[] {render(l -> "\r[" + secs((long) l[0]) + "] " + l[1] + "\r",
                "Booting from ROM...", "\u001b[0mdebian login: ", "stage1[9.09]: 0000:01:00.0 driver=vfio-pci"), 1000L});
        m.put("/dev/kmsg", new Object[] {render(l -> "6,1234," + (long) l[0] + ",-;" + l[1]), 1000L});
        m.put("dmesg --time-format iso", new Object[] {render(l -> wall((long) l[0], "yyyy-MM-dd'T'HH:mm:ss,SSSSSS") + "+00:00 " + l[1]), 1000L});
        m.put("dmesg -T", new Object[] {render(l -> "[" + wall((long) l[0], "EEE MMM d HH:mm:ss yyyy") + "] " + l[1]), 1_000_000_000L});
        m.put("journalctl -o short-monotonic", new Object[] {render(l -> "[" + secs((long) l[0]) + "] lab kernel: " + l[1],
                "-- Journal begins at Tue 2026-12-01 22:41:00 UTC. --"), 1000L});
        m.put("journalctl -o short-precise", new Object[] {render(l -> wall((long) l[0], "MMM dd HH:mm:ss.SSSSSS") + " lab kernel: " + l[1]), 1000L});
        m.put("journalctl -o short", new Object[] {render(l -> wall((long) l[0], "MMM dd HH:mm:ss") + " lab kernel: " + l[1]), 1_000_000_000L});
        m.put("journalctl -o short-iso-precise", new Object[] {render(l -> wall((long) l[0], "yyyy-MM-dd'T'HH:mm:ss.SSSSSS") + "+0000 lab kernel: " + l[1]), 1000L});
        m.put("journalctl -o json", new Object[] {render(l -> "{\"__REALTIME_TIMESTAMP\":\"" + (BOOT_EPOCH_S * 1_000_000 + (long) l[0] + 40)
                + "\",\"__MONOTONIC_TIMESTAMP\":\"" + ((long) l[0] + 40) + "\",\"_BOOT_ID\":\"0f5e1b7e9c2d4f6aa1b2c3d4e5f60718\",\"_TRANSPORT\":\"kernel\","
                + "\"_SOURCE_MONOTONIC_TIMESTAMP\":\"" + (long) l[0] + "\",\"_HOSTNAME\":\"lab\",\"MESSAGE\":\"" + l[1] + "\"}"), 1000L});
        return m;
    }

    record Run(SourceReport report, List<AnalyzedEpisode> episodes) {}

    static Run analyze(String text) {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport r = new KernelLogAnalyzer().analyze("test", new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), eps::add);
        return new Run(r, eps);
    }

    @TestFactory
    Stream<DynamicTest> everyFormatGivesTheSameEpisode() {
        return renderings().entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            String text = (String) e.getValue()[0];
            long res = (long) e.getValue()[1];
            try (var in = KernelLogs.open(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)))) {
                assertEquals(KernelLogs.Kind.KERNEL_LOG, KernelLogs.sniff(in), "detected by content");
            }
            Run r = analyze(text);
            for (Issue i : r.report().issues()) fail("issue " + i);
            assertEquals(1, r.episodes().size(), r.episodes().toString());
            AnalyzedEpisode a = r.episodes().get(0);
            Episode ep = a.episode();
            assertEquals("0000:01:00.0", ep.device());
            assertEquals(0, ep.severity(), "non-fatal");
            assertEquals(0x1000L, ep.status(), "Poisoned TLP from the status/mask line");
            assertEquals("0000:00:02.0", ep.bridge());
            assertEquals(5, ep.result(), "successful → RECOVERED");
            assertEquals(Outcome.INCONCLUSIVE, a.outcome(), "no race verdict from a log");
            // 57.771 ms between the first and the last message, to the format's resolution
            long span = ep.recoveryEnd() - ep.recoveryStart();
            assertTrue(Math.abs(span - 57_771_000L) < res, "recovery span " + span + " ns at resolution " + res);
        }));
    }

    static record Cli(int code, String out, String err) {}

    static synchronized Cli cli(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
            return new Cli(Main.run(args), bo.toString(StandardCharsets.UTF_8), be.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @TempDir Path tmp;

    Path file(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void aLogWithoutAerSaysSo() throws Exception {
        Cli c = cli("analyze", file("boot.log", "[    0.000000] Linux version 6.12.118+deb13-amd64\n"
                + "[    1.200000] virtio_net virtio0 eth0: renamed from eth0\n[    2.000000] EXT4-fs (vda): mounted filesystem\n").toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.err().contains("no AER error or recovery found in 3 lines"), c.err());
    }

    @Test
    void aForeignLogIsNamedAsSuchNotCrashed() throws Exception {
        Cli c = cli("analyze", file("auth.log", "Dec 01 22:41:00 lab sshd[812]: Accepted publickey for root\n"
                + "Dec 01 22:41:01 lab systemd[1]: Started session-3.scope\n").toString());
        assertEquals(2, c.code(), c.err());
        assertTrue(c.err().contains("neither an aertrace trace") && c.err().contains("nor a kernel log"), c.err());
    }

    @Test
    void aLogCutInsideARecoveryIsInconclusiveWithTheLine() {
        String text = render(l -> "[" + secs((long) l[0]) + "] " + l[1]);
        String cut = text.substring(0, text.indexOf("[  166.036064]"));
        Run r = analyze(cut);
        assertEquals(1, r.episodes().size());
        assertEquals(Outcome.INCONCLUSIVE, r.episodes().get(0).outcome());
        Issue i = r.report().issues().stream().filter(x -> x.kind() == Issue.Kind.INVALID_EVENT).findFirst().orElseThrow();
        assertEquals(List.of(1L), i.lines(), "the error's line");
        assertTrue(i.detail().contains("no \"device recovery successful|failed\""), i.detail());
    }

    @Test
    void aTruncatedLastLineAndAMalformedStatusHaveLineNumbers() {
        String text = "[  165.978293] pcieport 0000:00:02.0: AER: Uncorrected (Non-Fatal) error message received from 0000:01:00.0\n"
                + "[  165.994408] vfio-pci 0000:01:00.0:   device [1af4:1041] error status/mask=0000100/zz\n"
                + "[  166.036064] pcieport 0000:00:02.0: AER: device recov";
        Run r = analyze(text);
        Map<Issue.Kind, List<Long>> lines = new LinkedHashMap<>();
        for (Issue i : r.report().issues()) lines.put(i.kind(), i.lines());
        assertEquals(List.of(3L), lines.get(Issue.Kind.TRUNCATED_LINE), lines.toString());
        assertTrue(lines.get(Issue.Kind.INVALID_EVENT).contains(2L), lines.toString());
        assertEquals(1, r.episodes().size());
        assertEquals(Outcome.INCONCLUSIVE, r.episodes().get(0).outcome());
    }

    /** Found by KernelLogFuzzTest: a .gz cut short was taken for a trace (the bytes before the cut were lost). */
    @Test
    void aCutGzipKernelLogIsReadUpToTheCut() throws Exception {
        StringBuilder sb = new StringBuilder("[    0.000000] RAS: Correctable Errors collector initialized.\n"
                + "[   15.053345] Unstable clock detected, switching default tracing clock to \"global\"\n"
                + "               If you want to keep using the local clock, then add:\n"
                + "                 \"trace_clock=local\"\n");
        sb.append(render(l -> "[" + secs((long) l[0]) + "] " + l[1]));
        for (int i = 0; i < 2000; i++) sb.append("[  200.").append(String.format("%06d", i)).append("] virtio_net virtio0 eth0: tick ").append(i).append('\n');
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream g = new java.util.zip.GZIPOutputStream(bo)) { g.write(sb.toString().getBytes(StandardCharsets.UTF_8)); }
        byte[] z = bo.toByteArray();
        Path p = tmp.resolve("cut.dmesg.gz");
        Files.write(p, java.util.Arrays.copyOf(z, z.length * 2 / 3));
        Cli c = cli("analyze", "--format", "json", p.toString());
        assertEquals(3, c.code(), c.err() + c.out());
        assertFalse(c.out().contains("not an aertrace trace"), c.out());
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(c.out());
        assertEquals(1, j.path("episodes").size(), "the recovery before the cut: " + c.out());
        assertTrue(c.out().contains("kernel log ended with an error after line"), c.out());
    }

    @Test
    void garbageAndOverlongLinesNeverThrow() {
        StringBuilder sb = new StringBuilder("[    1.000000] ok\n");
        sb.append("x".repeat(KernelLogReader.MAX_LINE + 10)).append('\n');
        sb.append("[   2.0] \u0000\u0001 AER: PCIe Bus Error: severity=\n");
        sb.append("[99999999999.999999999] pcieport 0000:00:02.0: AER: device recovery successful\n");
        sb.append("6,1,99999999999999999999,-;pcieport 0000:00:02.0: AER: Root Port link has been reset (0)\n");
        Run r = analyze(sb.toString());
        assertTrue(r.report().issues().stream().anyMatch(i -> i.kind() == Issue.Kind.CORRUPT_LINE && i.lines().contains(2L)),
                r.report().issues().toString());
        assertTrue(r.episodes().isEmpty());
    }

    @Test
    void correctableErrorsAreEpisodesWithoutRecovery() {
        Run r = analyze("[   45.784547] pcieport 0000:00:02.0: AER: Correctable error message received from 0000:01:00.0\n"
                + "[   45.790000] vfio-pci 0000:01:00.0: PCIe Bus Error: severity=Correctable, type=Physical Layer, (Receiver ID)\n"
                + "[   45.791000] vfio-pci 0000:01:00.0:   device [1af4:1041] error status/mask=00000040/0000e000\n"
                + "[   45.792000] vfio-pci 0000:01:00.0:    [ 6] BadTLP                 (First)\n");
        assertEquals(1, r.episodes().size());
        Episode ep = r.episodes().get(0).episode();
        assertEquals(2, ep.severity());
        assertEquals(0x40L, ep.status());
        assertFalse(ep.hasRecovery());
        assertEquals(Outcome.CLEAN, r.episodes().get(0).outcome());
    }

    @Test
    void aFailedLinkResetIsTheKernelsOwnFailureVerdict() {
        Run r = analyze("[   99.696211] pcieport 0000:00:02.0: AER: Uncorrected (Fatal) error message received from 0000:01:00.0\n"
                + "[   99.697000] vfio-pci 0000:01:00.0: AER: PCIe Bus Error: severity=Uncorrected (Fatal), type=Inaccessible, (Unregistered Agent ID)\n"
                + "[  101.840700] pcieport 0000:00:02.0: AER: Root Port link has been reset (-25)\n"
                + "[  101.840900] pcieport 0000:00:02.0: AER: subordinate device reset failed\n"
                + "[  101.841000] pcieport 0000:00:02.0: AER: device recovery failed\n");
        assertEquals(1, r.episodes().size());
        AnalyzedEpisode a = r.episodes().get(0);
        assertEquals(Outcome.RECOVERY_FAILED, a.outcome(), a.verdicts().toString());
        String s = a.verdicts().stream().filter(v -> v.kind() == dev.aertrace.race.Verdict.Kind.RECOVERY_FAILED)
                .findFirst().orElseThrow().sentence();
        assertTrue(s.contains("device recovery failed") && s.contains("line 5") && s.contains("-25"), s);
    }

    @Test
    void theRatelimitMarkerIsAHole() {
        Run r = analyze("[   10.000000] aer_ratelimit: 12 callbacks suppressed\n");
        Issue i = r.report().issues().stream().filter(x -> x.kind() == Issue.Kind.LOST_EVENTS).findFirst().orElseThrow();
        assertEquals(List.of(1L), i.lines());
        assertTrue(i.kind().gap());
        assertEquals(12, r.report().lostEvents());
    }
}
