package dev.aertrace.ingest;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The analyzer's second pass replays the first pass's reading ({@link EventSpill}) instead of reading the input
 * again, so the replay must make exactly the calls a reader makes: the same listener calls with equal events, the
 * same diagnostics calls, interleaved in the same order. Held over every committed trace, whole and with damaged
 * lines (mutants of the fuzz's kind: bytes replaced, removed, doubled, lines cut), with the spill in memory and
 * all in a temp file; and a spill that gives up (too many headers) says so.
 */
class EventSpillTest {
    static final Path TESTDATA = LineScannerTest.TESTDATA;

    @Test
    void replayMakesTheReadersCallsOnEveryCommittedTrace() throws IOException {
        List<Path> traces;
        try (Stream<Path> s = Files.walk(TESTDATA)) {
            traces = s.filter(f -> f.toString().matches(".*\\.jsonl(\\.gz)?$")).sorted().toList();
        }
        assertTrue(traces.size() > 50, "committed traces not found under " + TESTDATA.toAbsolutePath());
        Random r = new Random(20261203);
        int files = 0, mutated = 0;
        for (Path p : traces) {
            byte[] raw = Files.readAllBytes(p);
            same(p.toString(), raw, EventSpill.MEMORY, 0);
            files++;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (byte[] l : lines(raw)) {
                out.write(r.nextInt(50) == 0 ? LineScannerTest.mutant(l, r) : l);
                if (r.nextInt(2000) != 0) out.write('\n'); // now and then two lines run together
            }
            same(p + " mutant", out.toByteArray(), files % 2 == 0 ? 0 : EventSpill.MEMORY);
            mutated++;
        }
        assertTrue(files > 50 && mutated > 50, files + " traces, " + mutated + " mutants");
    }

    /** Schema v3's one-line accesses (the reader's wholeEnter calls): the lab traces WholeAccessTest folds. */
    @Test
    void oneLineAccessesReplayAsRead() throws Exception {
        int traces = 0;
        for (String t : WholeAccessTest.TRACES) {
            Path in = WholeAccessTest.LAB.resolve(t);
            if (!Files.exists(in)) continue;
            WholeAccessTest.Rewrite r = WholeAccessTest.fold(WholeAccessTest.read(in));
            byte[] raw = (String.join("\n", r.lines()) + "\n").getBytes(StandardCharsets.UTF_8);
            same(t + " folded", raw, EventSpill.MEMORY, 0);
            traces++;
        }
        assertTrue(traces >= 8, "committed traces found: " + traces);
    }

    /** A listener call the spill does not record would reach the second pass as another call (or not at all). */
    @Test
    void everyListenerCallIsRecorded() throws NoSuchMethodException {
        for (java.lang.reflect.Method m : TraceListener.class.getMethods())
            assertEquals(EventSpill.class, EventSpill.class.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass(),
                    "EventSpill does not record TraceListener." + m.getName());
    }

    @Test
    void manyHeadersGiveItUp() throws IOException {
        StringBuilder b = new StringBuilder();
        String header = "{\"type\":\"header\",\"schema_version\":1,\"agent\":\"t\",\"host\":\"h\",\"kernel\":\"6.1\",\"boot_id\":\"b\",\"mono_ns\":1,\"realtime_ns\":1,\"attached\":[],\"missing\":[]}\n";
        for (int i = 0; i <= EventSpill.MAX_HEADERS; i++) b.append(header);
        Diagnostics d = new Diagnostics();
        EventSpill spill = new EventSpill(new Log(), d);
        new TraceReader("t", d, spill).read(new ByteArrayInputStream(b.toString().getBytes(StandardCharsets.UTF_8)));
        assertFalse(spill.complete());
        spill.close();
    }

    /** Reads {@code raw} directly and through a spill with each memory cap; the logs of calls must be equal. */
    private static void same(String what, byte[] raw, long... memories) throws IOException {
        Log direct = new Log();
        Diagnostics d1 = new Diagnostics();
        d1.record(direct);
        SourceReport r1 = new TraceReader(what, d1, direct).read(new ByteArrayInputStream(raw));
        for (long memory : memories) spilled(what, raw, memory, direct, d1, r1);
    }

    private static void spilled(String what, byte[] raw, long memory, Log direct, Diagnostics d1, SourceReport r1) throws IOException {
        Diagnostics d2 = new Diagnostics();
        Log forwarded = new Log();
        try (EventSpill spill = new EventSpill(forwarded, d2, memory)) {
            SourceReport r2 = new TraceReader(what, d2, spill).read(new ByteArrayInputStream(raw));
            assertEquals(text(r1), text(r2), what);
            assertTrue(spill.complete(), what);
            what += memory == 0 ? " (temp file)" : "";
            if (memory == 0 && raw.length > 100) assertTrue(spill.spilledToFile(), what);
            Log replayed = new Log();
            Diagnostics d3 = new Diagnostics();
            d3.record(replayed);
            spill.replay(replayed, d3);
            assertEquals(direct.calls.size(), replayed.calls.size(), what);
            int i = 0;
            while (i < direct.calls.size() && direct.calls.get(i).equals(replayed.calls.get(i))) i++;
            if (i < direct.calls.size()) assertEquals(direct.calls.get(i), replayed.calls.get(i), what + " call " + i);
            // forwarded unchanged: the listener's calls of the direct reading (diagnostics calls went to d2, untapped)
            assertEquals(direct.calls.stream().filter(c -> !(c instanceof String t && (t.startsWith("issue ") || t.startsWith("unknown")))).toList(),
                    forwarded.calls, what);
            assertEquals(d1.issues(), d3.issues(), what);
            assertEquals(d1.unknownTypes(), d3.unknownTypes(), what);
            assertEquals(d1.unknownFields(), d3.unknownFields(), what);
        }
    }

    /** A header as text: its topology by its devices (the class prints as its identity). */
    private static String text(TraceHeader h) {
        return h == null ? "null" : new TraceHeader(h.schemaVersion(), h.agent(), h.host(), h.kernel(), h.bootId(), h.monoNs(),
                h.realtimeNs(), h.attached(), h.missing(), h.filterDevices(), null, h.line()) + " " + h.topology().devices();
    }

    static String text(SourceReport r) {
        return new SourceReport(r.source(), null, r.footer(), r.lines(), r.events(), r.eventsByType(), r.unknownTypes(),
                r.unknownFields(), r.lostEvents(), r.segments(), r.issues()) + " " + text(r.header());
    }

    private static List<byte[]> lines(byte[] raw) throws IOException {
        List<byte[]> out = new ArrayList<>();
        try (InputStream in = TraceReader.decode(new ByteArrayInputStream(raw));
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1))) {
            for (String l; (l = r.readLine()) != null; ) out.add(l.getBytes(StandardCharsets.ISO_8859_1));
        }
        return out;
    }

    /**
     * Every call: an event call as the event itself (records compare every field; an AER event's tlp by its
     * contents), the others as text. Printed only when two differ: building a string per call took most of this
     * test's time.
     */
    static final class Log implements TraceListener, Diagnostics.Recorder {
        final List<Object> calls = new ArrayList<>();

        @Override public void header(TraceHeader h) { calls.add("header " + EventSpillTest.text(h)); }

        @Override public void event(Event e) { calls.add(new Call("event", e)); }

        @Override public void history(Event e) { calls.add(new Call("history", e)); }

        @Override public void wholeEnter(Event e) { calls.add(new Call("wholeEnter", e)); }

        @Override public void historyDump() { calls.add("dump"); }

        @Override public void footer(TraceFooter f) { calls.add("footer " + f); }

        @Override public void advance(long ts) { calls.add(new Call("advance", ts)); }

        @Override public void end() { calls.add("end"); }

        @Override public void issue(Issue.Kind kind, long line, String detail) { calls.add("issue " + kind + " " + line + " " + detail); }

        @Override public void unknownType(String type, long line) { calls.add("unknownType " + type + " " + line); }

        @Override public void unknownField(String type, String field, long line) { calls.add("unknownField " + type + " " + field + " " + line); }

        /** A listener call with one argument: an event or a ts. */
        private record Call(String name, Object arg) {
            @Override public boolean equals(Object o) {
                if (!(o instanceof Call c) || !name.equals(c.name)) return false;
                if (arg instanceof Event.AerError a && c.arg instanceof Event.AerError b) // an array's equals is identity
                    return a.common().equals(b.common()) && a.severity() == b.severity() && a.status() == b.status()
                            && a.tlpValid() == b.tlpValid() && Arrays.equals(a.tlp(), b.tlp());
                return arg.getClass() == c.arg.getClass() && arg.equals(c.arg);
            }

            @Override public int hashCode() { return name.hashCode(); }

            @Override public String toString() { return name + " " + (arg instanceof Event e ? text(e) : arg); }
        }

        private static String text(Event e) {
            if (e instanceof Event.AerError a) // an array prints as its identity
                return "AerError " + a.common() + " " + a.severity() + " " + a.status() + " " + a.tlpValid() + " " + Arrays.toString(a.tlp());
            return e.getClass().getName() + " " + e;
        }
    }
}
