package dev.aertrace.cli;

import dev.aertrace.race.Pci;
import dev.aertrace.timeline.Times;
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
        assertEquals("-9223372036.855 s", Times.dur(Long.MIN_VALUE));
        assertEquals("-1.000 ms", Times.dur(-1_000_000));
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
}
