package dev.aertrace.ingest;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reader takes most lines whole (TraceReader.whole: the scanner reads a line by a shape up to its '\n' before
 * the splitter looks for the '\n'). That must read every line as the splitter's cut line reads: the same listener
 * and diagnostics calls in the same order and the same report, against a reading whose input arrives a few bytes
 * per read, so that no line is ever whole in the bytes in hand and every one is cut first. Held over every committed
 * trace (its first 512 KiB), and a damaged copy of each: mutants of the fuzz's kind, lines ending "\r\n", a blank
 * or a second brace after the '}', lines run together, a line cut by the end of the input.
 */
class WholeLinesTest {
    private static final int PREFIX = 512 << 10;

    @Test
    void aLineTakenWholeReadsAsTheCutLine() throws IOException {
        List<Path> traces;
        try (Stream<Path> s = Files.walk(LineScannerTest.TESTDATA)) {
            traces = s.filter(f -> f.toString().matches(".*\\.jsonl(\\.gz)?$")).sorted().toList();
        }
        assertTrue(traces.size() > 50, "committed traces not found under " + LineScannerTest.TESTDATA.toAbsolutePath());
        Random r = new Random(20261213);
        int files = 0;
        for (Path p : traces) {
            byte[] raw;
            try (InputStream in = TraceReader.decode(Files.newInputStream(p))) {
                raw = in.readNBytes(PREFIX); // the field traces' first 512 KiB: a test's time, not a trace's
            }
            same(p.toString(), raw, r);
            same(p + " damaged", damaged(raw, r), r);
            files++;
        }
        assertTrue(files > 50, files + " traces");
    }

    /** Most lines of a trace the agent wrote are taken whole. */
    @Test
    void mostLinesAreTakenWhole() throws IOException {
        byte[] raw;
        try (InputStream in = TraceReader.decode(Files.newInputStream(LineScannerTest.TESTDATA.resolve("lab/6.1/fatal-race.jsonl.gz")))) {
            raw = in.readAllBytes();
        }
        TraceReader reader = new TraceReader("t", new Diagnostics(), new EventSpillTest.Log());
        int[] whole = {0}, cut = {0};
        new LineSplitter(new LineSplitter.Lines() {
            @Override public void line(byte[] b, int off, int len, boolean terminated) {
                cut[0]++;
                reader.line(b, off, len, terminated);
            }

            @Override public void overlong() { reader.overlong(); }

            @Override public int whole(byte[] b, int from, int n) {
                int e = reader.whole(b, from, n);
                if (e >= 0) whole[0]++;
                return e;
            }
        }, null).split(new ByteArrayInputStream(raw));
        assertTrue(whole[0] > 3000 && whole[0] > 9 * cut[0], whole[0] + " lines taken whole, " + cut[0] + " cut");
    }

    private static void same(String what, byte[] raw, Random r) throws IOException {
        EventSpillTest.Log fast = new EventSpillTest.Log(), slow = new EventSpillTest.Log();
        Diagnostics d1 = new Diagnostics(), d2 = new Diagnostics();
        d1.record(fast);
        d2.record(slow);
        SourceReport r1 = new TraceReader(what, d1, fast).read(new ByteArrayInputStream(raw));
        SourceReport r2 = new TraceReader(what, d2, slow).read(new Trickle(raw, r));
        for (int i = 0; i < Math.min(slow.calls.size(), fast.calls.size()); i++)
            if (!slow.calls.get(i).equals(fast.calls.get(i))) assertEquals(slow.calls.get(i), fast.calls.get(i), what + " call " + i);
        assertEquals(slow.calls.size(), fast.calls.size(), what);
        assertEquals(EventSpillTest.text(r2), EventSpillTest.text(r1), what);
    }

    /** The lines of {@code raw}, some damaged, some ending "\r\n", some followed by a blank or a brace, some run together. */
    private static byte[] damaged(byte[] raw, Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int from = 0;
        for (int i = 0; i <= raw.length; i++) {
            if (i < raw.length && raw[i] != '\n') continue;
            byte[] l = java.util.Arrays.copyOfRange(raw, from, i);
            from = i + 1;
            int pick = r.nextInt(100);
            out.writeBytes(pick < 2 ? LineScannerTest.mutant(l, r) : l);
            if (pick == 2) out.write('\r');
            else if (pick == 3) out.write(' ');
            else if (pick == 4) out.write('}');
            if (pick != 5 && (i < raw.length || pick == 6)) out.write('\n');
        }
        return out.toByteArray();
    }

    /** The bytes, 1 to 8 per read: no line that could be a shape's (25 bytes or more) is ever whole in one read. */
    private static final class Trickle extends InputStream {
        private final byte[] b;
        private final Random r;
        private int at;

        Trickle(byte[] b, Random r) {
            this.b = b;
            this.r = r;
        }

        @Override public int read() { return at < b.length ? b[at++] & 0xff : -1; }

        @Override public int read(byte[] to, int off, int len) {
            if (at >= b.length) return -1;
            int n = Math.min(Math.min(len, 1 + r.nextInt(8)), b.length - at);
            System.arraycopy(b, at, to, off, n);
            at += n;
            return n;
        }
    }
}
