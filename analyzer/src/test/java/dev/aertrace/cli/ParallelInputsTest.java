package dev.aertrace.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several trace files analysed by several threads give the bytes one thread gives, in command-line order. */
class ParallelInputsTest {
    @Test
    void manyThreadsSameBytes() throws Exception {
        List<String> traces = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("../testdata/lab/6.1"))) {
            s.map(Path::toString).filter(p -> p.endsWith(".gz")).sorted().limit(10).forEach(traces::add); // traces and kernel logs mixed
        }
        traces.add(1, traces.get(0)); // the same file twice
        assertTrue(traces.size() >= 8, traces.toString());
        for (List<String> format : FORMATS) {
            String one = run(format, "1", traces), four = run(format, "4", traces);
            assertEquals(one, four, "analyze " + format + " -j 4 differs from -j 1");
        }
    }

    /** Text and compact JSON are written ahead by the threads, pretty JSON is not: all three must agree with -j 1. */
    static final List<List<String>> FORMATS = List.of(List.of(), List.of("--format", "json"), List.of("--format", "json", "--pretty"));

    /**
     * A QEMU log given after the traces decorates a traced episode (vm-stopped, its unplaced notes): the threads
     * that write episodes ahead decorate them too, and must do it as the one thread does.
     */
    @Test
    void aQemuLogDecoratesEpisodesWrittenAhead(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        long[] t = dev.aertrace.kernellog.QemuLogTest.traceErrorAndOffset();
        Path placed = tmp.resolve("vm1.log"), unplaced = tmp.resolve("vm2.log");
        Files.writeString(placed, dev.aertrace.kernellog.QemuLogTest.qemuLog(t[0] + t[1] + 1_000_000L, "0000:01:00.0"));
        // QEMU without -msg timestamp=on: a notification that cannot be placed, named in a sorted note whichever
        // thread found it
        Files.writeString(unplaced, dev.aertrace.kernellog.QemuLogTest.qemuLog(t[0] + t[1], "0000:01:00.0")
                .replaceAll("(?m)^\\d{4}-\\d\\d-\\d\\dT\\S*Z ", ""));
        List<String> traces = new ArrayList<>(List.of("../testdata/lab/kmsg/6.1/fatal-race.jsonl.gz",
                "../testdata/lab/6.1/fatal-race.jsonl.gz", "../testdata/lab/kmsg/6.1/fatal-race.jsonl.gz",
                "../testdata/lab/6.1/nonfatal.jsonl.gz", placed.toString(), unplaced.toString()));
        for (List<String> format : FORMATS) {
            String one = run(format, "1", traces), three = run(format, "3", traces);
            assertTrue(one.contains("vfio_err_notifier_handler(0000:01:00.0) at"), format + ": the QEMU log joined nothing\n" + one);
            assertTrue(one.contains(unplaced + " line 4"), format + ": no unplaced note\n" + one);
            assertEquals(one, three, "analyze " + format + " -j 3 differs from -j 1");
        }
    }

    static String run(List<String> format, String jobs, List<String> traces) {
        List<String> args = new ArrayList<>(List.of("analyze", "-j", jobs));
        args.addAll(format);
        args.addAll(traces);
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        int code;
        synchronized (ParallelInputsTest.class) {
            try {
                System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
                code = Main.run(args.toArray(String[]::new));
            } finally {
                System.setOut(o);
                System.setErr(e);
            }
        }
        return "exit " + code + "\n" + bo.toString(StandardCharsets.UTF_8) + "\n--- stderr\n" + be.toString(StandardCharsets.UTF_8);
    }
}
