package dev.aertrace.cli;

import dev.aertrace.pci.Pci;
import dev.aertrace.text.Durations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The bad-input reproducers of issue 10 (analyzer/src/test/resources/fuzz-seeds, from /work/shared/bad-input),
 * each checked for what it used to do. FuzzTest#seeds also runs each through every command.
 */
class ReproducerTest {
    static final Path SEEDS = Path.of("src/test/resources/fuzz-seeds");

    @TempDir Path tmp;

    @Test
    void durAtLongMinValueDoesNotRecurse() {
        assertEquals("-9223372036.855 s", Durations.dur(Long.MIN_VALUE));
        assertEquals("-1.000 ms", Durations.dur(-1_000_000));
    }

    @Test
    void sizeIsNeverAFormatWidth() {
        assertEquals("0x0004", Pci.hexOfSize(4, 2));
        assertEquals("0x4 (size 0?)", Pci.hexOfSize(4, 0));
        assertEquals("0x4 (size -1?)", Pci.hexOfSize(4, -1));
        assertEquals("0x4 (size 1000000000?)", Pci.hexOfSize(4, 1_000_000_000));
    }

    @Test
    void size0NegativeAnd1e9AreReported() {
        for (String f : new String[] {"B-size0.jsonl", "C-size-neg.jsonl", "G-size-1e9.jsonl"}) {
            CliTest.Out r = CliTest.run("analyze", SEEDS.resolve(f).toString());
            assertTrue(r.code() >= 0 && r.code() <= 4, f + ": exit " + r.code() + " " + r.err());
            assertFalse(r.err().contains("Flags"), r.err());
            assertTrue(r.out().length() < 100_000, f + ": " + r.out().length() + " bytes of report");
            assertTrue(r.out().contains("== summary"), r.out());
        }
    }

    @Test
    void minValueTimestampIsNotAStackOverflow() {
        for (String[] cmd : new String[][] {{"analyze"}, {"timeline"}, {"export", "--format", "chrome", "-o", tmp.resolve("d.json").toString()}}) {
            String[] args = java.util.Arrays.copyOf(cmd, cmd.length + 1);
            args[cmd.length] = SEEDS.resolve("D-dur-min.jsonl").toString();
            CliTest.Out r = CliTest.run(args);
            assertFalse(r.err().contains("internal error"), cmd[0] + ": " + r.err());
            assertTrue(r.code() >= 0 && r.code() <= 4, cmd[0] + ": exit " + r.code());
        }
    }

    @Test
    void exitWithoutEnterDrawsAndExports() {
        Path e = SEEDS.resolve("E-npe-exit-without-enter.jsonl");
        for (String[] cmd : new String[][] {{"timeline"}, {"chart", "--format", "svg", "-o", tmp.toString()},
                {"export", "--format", "chrome", "-o", tmp.resolve("e.json").toString()}}) {
            String[] args = java.util.Arrays.copyOf(cmd, cmd.length + 1);
            args[cmd.length] = e.toString();
            CliTest.Out r = CliTest.run(args);
            assertEquals(0, r.code(), cmd[0] + ": " + r.err());
            assertFalse(r.err().contains("null"), r.err());
        }
    }

    @Test
    void loneSurrogateInCommExportsToAFile() throws Exception {
        Path out = tmp.resolve("f.json");
        CliTest.Out r = CliTest.run("export", "--format", "chrome", "-o", out.toString(), SEEDS.resolve("F-lone-surrogate.jsonl").toString());
        assertEquals(0, r.code(), r.err());
        // valid UTF-8 JSON, whatever became of the surrogate (escaped or replaced)
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(out, StandardCharsets.UTF_8));
        r = CliTest.run("export", "--format", "csv", "-o", tmp.resolve("csv").toString(), SEEDS.resolve("F-lone-surrogate.jsonl").toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void duplicatedRecoveryLinesDoNotCrashTheReport() {
        CliTest.Out r = CliTest.run("analyze", SEEDS.resolve("A-classcast.jsonl").toString());
        assertFalse(r.err().contains("cannot be cast"), r.err());
        assertTrue(r.code() >= 0 && r.code() <= 4, "exit " + r.code() + " " + r.err());
    }

    @Test
    void jvmErrorsAreInternalNotRaceFound() {
        StringWriter w = new StringWriter();
        assertEquals(Main.INTERNAL, Main.handle(new StackOverflowError(), "analyze", new PrintWriter(w)));
        assertTrue(w.toString().startsWith("aertrace analyze: internal error (exit 70"), w.toString());
        assertTrue(w.toString().contains("\tat "), "with its stack trace");
        w = new StringWriter();
        assertEquals(Main.INTERNAL, Main.handle(new OutOfMemoryError("Java heap space"), "analyze", new PrintWriter(w)));
        assertTrue(w.toString().contains("AERTRACE_JAVA_OPTS"), w.toString());
        w = new StringWriter();
        assertEquals(2, Main.handle(new java.nio.file.AccessDeniedException("/x"), "analyze", new PrintWriter(w)));
        assertEquals("aertrace analyze: /x: permission denied", w.toString().strip());
    }

    @Test
    void compareAgainstEmptyGarbageOrCutGzipIsNotNoChange() throws Exception {
        Path good = Path.of("../testdata/lab/6.1/fatal-race-x20.jsonl.gz");
        Path empty = Files.write(tmp.resolve("empty.jsonl.gz"), new byte[0]);
        Path garbage = Files.write(tmp.resolve("garbage.jsonl"), "not a trace\n\u0001\u0002 at all\n".getBytes(StandardCharsets.UTF_8));
        byte[] gz = Files.readAllBytes(good);
        Path cut = Files.write(tmp.resolve("cut.jsonl.gz"), java.util.Arrays.copyOf(gz, gz.length / 2));
        for (Path p : new Path[] {empty, garbage}) {
            CliTest.Out r = CliTest.run("compare", "-l", "a", "-l", "b", good.toString(), p.toString());
            assertEquals(2, r.code(), p + ": " + r.out() + r.err());
        }
        CliTest.Out r = CliTest.run("compare", "-l", "a", "-l", "b", good.toString(), cut.toString());
        assertNotEquals(0, r.code(), "a cut .gz: " + r.out() + r.err());
        assertTrue(r.err().contains("holes") || r.code() == 1, r.err());
    }

    /** One trace's text report, with the exit code the CLI gave it. */
    private static CliTest.Out analyze(String seed) {
        return CliTest.run("analyze", SEEDS.resolve(seed).toString());
    }

    @Test
    void headerFieldsOfTheWrongTypeMakeTheTraceInconclusive() {
        // H: topology an object (was a false device-not-reset, exit 4); H0: [] (was CLEAN); H1: "schema_version":"1"
        // (was read as 1); H2: mono_ns a string. The same trace with a well-formed header (H3) is CLEAN.
        for (String f : new String[] {"H-topology-object.jsonl", "H0-topology-empty-array.jsonl",
                "H1-schema-version-string.jsonl", "H2-mono-ns-string.jsonl"}) {
            CliTest.Out r = analyze(f);
            assertEquals(3, r.code(), f + ": " + r.out());
            assertTrue(r.out().contains("bad-header ×1 (line 1)"), f + ": " + r.out());
            assertFalse(r.out().contains("CLEAN") || r.out().contains("device-not-reset"), f + ": " + r.out());
        }
        CliTest.Out good = analyze("H3-good-header-clean.jsonl");
        assertEquals(0, good.code(), good.out());
        assertFalse(good.out().contains("bad-header"), good.out());
    }

    @Test
    void impossibleAccessSizesAreANamedProblemNotARace() {
        // G: a config read of 1e9 bytes held across the reset was a confident access-stalled-by-reset (exit 1).
        CliTest.Out g = analyze("G-size-1e9.jsonl");
        assertEquals(3, g.code(), g.out());
        assertTrue(g.out().contains("bad-size ×2 (line 4,6)"), g.out());
        for (String f : new String[] {"B-size0.jsonl", "C-size-neg.jsonl"}) {
            CliTest.Out r = analyze(f);
            assertEquals(3, r.code(), f + ": " + r.out());
            assertTrue(r.out().contains("bad-size ×1 (line 3)"), f + ": " + r.out());
        }
    }

    @Test
    void aNewerAgentsTypeAddsUpWithItsFooter() {
        // I: EVENTS.md says the footer counts every event line, and that unknown types are counted and ignored.
        CliTest.Out r = analyze("I-newer-agent-type-counted-in-footer.jsonl");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("unknown type \"vfio.mmap\" ×1"), r.out());
        assertFalse(r.out().contains("footer-mismatch"), r.out());
        // ...but a known type with one byte flipped is a damaged line, not a newer agent's: the race it hid
        // (the user's read inside the reset) must not become a confident verdict either way.
        CliTest.Out l = analyze("L-damaged-type.jsonl");
        assertEquals(3, l.code(), l.out());
        assertTrue(l.out().contains("damaged-name ×1 (line 6)"), l.out());
    }

    @Test
    void impossibleLossCountsAreNamedAndNeverConfident() {
        CliTest.Out j0 = analyze("J0-lost-count-zero.jsonl");
        assertEquals(3, j0.code(), j0.out());
        assertTrue(j0.out().contains("bad-count ×1 (line 5)"), j0.out());
        assertTrue(j0.out().contains("an unknown number of events lost"), j0.out());
        // J: 2^63-1 then 1 (wrapped negative before), and a footer with lost = Long.MIN_VALUE.
        CliTest.Out j = analyze("J-lost-count-overflow.jsonl");
        assertEquals(3, j.code(), j.out());
        assertTrue(j.out().contains("bad-count ×2 (line 6,11)"), j.out());
        assertTrue(j.out().contains("the agent reported 9223372036854775807 lost events"), j.out()); // saturated, not wrapped
        CliTest.Out k = analyze("K-footer-lost-not-in-stream.jsonl");
        assertEquals(3, k.code(), k.out());
    }

    @Test
    void saturatingCountsNeverWrap() {
        assertEquals(Long.MAX_VALUE, dev.aertrace.ingest.Strict.add(Long.MAX_VALUE, 1));
        assertEquals(Long.MAX_VALUE, dev.aertrace.ingest.Strict.add(Long.MAX_VALUE - 5, Long.MAX_VALUE - 5));
        assertEquals(7, dev.aertrace.ingest.Strict.add(3, 4));
    }

    @Test
    void aLoneSurrogateInANameIsDamageNotEvidence() {
        // Found by the fuzzer's evidence property (build seed): "\ud800" put into the comm of the user's AER status
        // read gave a confident notice naming "?xvfio-user". The agent never writes one (errors="replace").
        CliTest.Out r = analyze("evidence-lone-surrogate-comm.jsonl");
        assertTrue(r.out().contains("unpaired UTF-16 surrogate"), r.out());
        assertFalse(r.out().contains("xvfio-user (pid"), r.out());
    }

    @Test
    void anExitWhoseEnterArrivedImpossiblyLateIsNotAConfidentRace() {
        // Found by the long fuzz run (seed 5, mutant 554, 6.1/qemu-fatal): the VFIO_DEVICE_RESET enter's ts := -1.
        // Its exit alone became a confident access-during-reset: the late-delivery gap met the exit's unknown
        // start but did not cover it, and was taken as already naming it.
        CliTest.Out r = analyze("evidence-late-ioctl-enter.jsonl.gz");
        assertNotEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("unmatched-exit"), r.out());
    }
}
