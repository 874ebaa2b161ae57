package dev.aertrace.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The one error contract, one test per class, through {@link Main#run} as a user meets it: picocli's usage
 * errors exit 2 with the command's usage; an input the user must fix exits 2 with one line; anything else is
 * our bug: exit 70, "internal error", and a stack trace, never "usage".
 */
class ErrorContractTest {
    @TempDir Path tmp;

    record Out(int code, String out, String err) {
        String firstErrLine() { return err.lines().findFirst().orElse(""); }
    }

    static synchronized Out run(OutputStream stdout, String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream be = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Out(code, stdout.toString(), be.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    static Out run(String... args) {
        return run(new ByteArrayOutputStream(), args);
    }

    @Test
    void usageErrorIsTwoWithThatCommandsUsage() {
        Out r = run("timeline", "--no-such-option");
        assertEquals(2, r.code());
        assertEquals("Unknown option: '--no-such-option'", r.firstErrLine(), r.err());
        assertTrue(r.err().contains("Usage: aertrace timeline"), r.err());
        assertFalse(r.err().contains("internal error"), r.err());
    }

    @Test
    void missingInputIsTwoAndOneLine() {
        String missing = tmp.resolve("nope.jsonl").toString();
        for (String cmd : new String[] {"analyze", "timeline", "export"}) {
            Out r = cmd.equals("export") ? run(cmd, "--format", "csv", missing) : run(cmd, missing);
            assertEquals(2, r.code(), r.err());
            assertEquals("aertrace " + cmd + ": cannot read " + missing + ": no such file", r.firstErrLine());
            assertEquals(1, r.err().lines().count(), r.err());
        }
    }

    @Test
    void unwritableOutputIsTwoAndOneLine() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        Out r = run("analyze", "-o", dir.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.firstErrLine().startsWith("aertrace analyze: " + dir), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void foreignInputIsNotAnInternalError() throws Exception {
        Path png = tmp.resolve("x.png");
        Files.write(png, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R'});
        Out r = run("analyze", png.toString());
        assertNotEquals(Main.INTERNAL, r.code(), r.err());
        assertFalse(r.err().contains("internal error") || r.err().contains("\tat "), r.err());
    }

    /** An injected failure of ours (stdout throws) is "internal error", exit 70, with its stack trace. */
    @Test
    void injectedInternalFailurePrintsAStackTrace() {
        OutputStream broken = new OutputStream() {
            @Override public void write(int b) { throw new IllegalStateException("injected failure"); }
            @Override public void write(byte[] b, int off, int len) { throw new IllegalStateException("injected failure"); }
        };
        Out r = run(broken, "analyze");
        assertEquals(Main.INTERNAL, r.code(), r.err());
        String first = r.err().lines().filter(l -> l.contains("internal error")).findFirst().orElse("");
        assertTrue(first.startsWith("aertrace analyze: internal error (exit 70"), r.err());
        assertTrue(first.contains("injected failure"), r.err());
        assertTrue(r.err().contains("\tat "), "a stack trace: " + r.err());
        assertFalse(r.err().contains("Usage:"), r.err());
    }

    /** A port the metrics server cannot bind is the user's to fix: exit 2, one line (MetricsOptions, before Kafka is tried). */
    @Test
    void metricsPortTakenIsTwoAndOneLine() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String at = "127.0.0.1:" + taken.getLocalPort();
            Out r = run("fleet", "--bootstrap", "127.0.0.1:1", "--metrics", at);
            assertEquals(2, r.code(), r.err());
            assertTrue(r.firstErrLine().startsWith("aertrace fleet: cannot serve metrics on " + at + ": "), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
        }
        Out bad = run("record", "--metrics", "nohost:notaport", "--listen", "127.0.0.1:0");
        assertEquals(2, bad.code(), bad.err());
        assertEquals("--metrics nohost:notaport: expected [HOST:]PORT", bad.firstErrLine(), bad.err());
    }
}
