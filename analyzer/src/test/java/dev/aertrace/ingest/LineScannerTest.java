package dev.aertrace.ingest;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scanner a reader keeps for a whole trace carries state from line to line (the predicted next field name,
 * each field's last string value, the string cache), and compares names as masked words that may read past the
 * line's end in its buffer. None of that may change what a line reads as: every line of every committed trace and
 * 300k mutants of them, in trace order and interleaved, read by the long-lived scanner give the same result and
 * the same fields as a fresh scanner with nothing remembered, with the line alone in an array of its own size.
 * Likewise the shapes it learns (a line read from the bytes of an earlier one but for its numbers).
 */
class LineScannerTest {
    static final Path TESTDATA = Path.of(System.getProperty("aertrace.testdata", "../testdata"));

    @Test
    void rememberedStateNeverChangesWhatALineReadsAs() throws IOException {
        List<byte[]> lines = committedLines();
        Scratch kept = new Scratch();
        LineScanner scanner = new LineScanner(kept, new StringCache());
        Random r = new Random(20261202);
        byte[] buf = new byte[1 << 16];
        int declined = 0, mutants = 0;
        for (int round = 0; round < 2; round++) {
            for (int n = 0; n < lines.size(); n++) {
                byte[] line = lines.get(n);
                if (round == 1) { // the second round: a mutant after each line, so remembered values are near misses
                    line = mutant(line, r);
                    mutants++;
                }
                if (line.length + 16 > buf.length) continue;
                // In a shared buffer at some offset, with bytes after the line that could complete a name or a value.
                int off = r.nextInt(64);
                System.arraycopy(line, 0, buf, off, line.length);
                for (int i = off + line.length; i < off + line.length + 16; i++) buf[i] = TAIL[r.nextInt(TAIL.length)];
                kept.reset();
                boolean got = line.length > 0 && line[0] == '{' && scanner.scan(buf, off, off + line.length);
                Scratch fresh = new Scratch();
                boolean want = line.length > 0 && line[0] == '{' && new LineScanner(fresh, new StringCache()).scan(line.clone(), 0, line.length);
                String what = new String(line, StandardCharsets.ISO_8859_1);
                assertEquals(want, got, what);
                if (want) assertEquals(dump(fresh), dump(kept), what);
                else declined++;
            }
        }
        assertTrue(mutants >= 100_000 && declined > 1000, mutants + " mutants, " + declined + " declined");
    }

    /**
     * A line that matches a shape the scanner learnt (the same bytes but for its numbers) is read from the shape:
     * every committed line with its numbers replaced by others (valid ones of every length and sign, "-0", and
     * ones the scanner declines: 19 digits, a leading zero, a lone '-', a fraction), read by one long-lived
     * scanner, reads as a fresh scanner reads it alone; and most of them are read by a shape.
     */
    @Test
    void renumberedLinesReadByShapeAsAlone() throws IOException {
        List<byte[]> lines = committedLines();
        Scratch kept = new Scratch();
        LineScanner scanner = new LineScanner(kept, new StringCache());
        Random r = new Random(20261203);
        byte[] buf = new byte[1 << 16];
        int read = 0, declined = 0;
        for (byte[] original : lines) {
            for (int copy = 0; copy < 2; copy++) {
                byte[] line = renumbered(original, r);
                if (line.length == 0 || line[0] != '{' || line.length + 16 > buf.length) continue;
                int off = r.nextInt(64);
                System.arraycopy(line, 0, buf, off, line.length);
                for (int i = off + line.length; i < off + line.length + 16; i++) buf[i] = TAIL[r.nextInt(TAIL.length)];
                kept.reset();
                boolean got = scanner.scan(buf, off, off + line.length);
                Scratch fresh = new Scratch();
                boolean want = new LineScanner(fresh, new StringCache()).scan(line.clone(), 0, line.length);
                String what = new String(line, StandardCharsets.ISO_8859_1);
                assertEquals(want, got, what);
                if (want) {
                    assertEquals(dump(fresh), dump(kept), what);
                    read++;
                } else declined++;
            }
        }
        assertTrue(read > 200_000 && declined > 10_000, read + " read, " + declined + " declined");
        assertTrue(scanner.shapeHits > read * 3 / 4, scanner.shapeHits + " of " + read + " lines read by a shape");
    }

    /**
     * The set of shapes a line tries is chosen by its type's name, so a type's lines find their own shape first:
     * vfio.rw.enter and vfio.rw.exit (alternating, 98% of a polling user's trace) share their first 8 bytes, and when
     * those alone chose the set, an enter line tried 3 shapes in vain on average (the bench trace, session 13).
     */
    @Test
    void aLineTriesItsOwnTypesShapesFirst() throws IOException {
        Scratch s = new Scratch();
        LineScanner scanner = new LineScanner(s, new StringCache());
        long lines = 0;
        try (InputStream in = TraceReader.decode(Files.newInputStream(TESTDATA.resolve("lab/6.1/fatal-race.jsonl.gz")));
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1))) {
            byte[] buf = new byte[1 << 16];
            for (String l; (l = r.readLine()) != null; ) {
                byte[] line = l.getBytes(StandardCharsets.ISO_8859_1);
                if (line.length + 32 > buf.length || line[0] != '{') continue;
                System.arraycopy(line, 0, buf, 0, line.length);
                s.reset();
                scanner.scan(buf, 0, line.length);
                lines++;
            }
        }
        assertTrue(lines > 3000 && scanner.shapeHits > lines * 9 / 10, scanner.shapeHits + " of " + lines + " lines read by a shape");
        assertTrue(scanner.shapeMisses < scanner.shapeHits / 10, scanner.shapeMisses + " shapes tried in vain for " + scanner.shapeHits + " hits");
    }

    /**
     * A config access's region is the literal "config" itself (StringCache), so the checks that compare it with
     * "config" on every access return at once; read field by field and by shape alike.
     */
    @Test
    void aConfigRegionIsTheLiteral() {
        Scratch s = new Scratch();
        LineScanner scanner = new LineScanner(s, new StringCache());
        for (int n = 0; n < 3; n++) {
            byte[] line = ("{\"type\":\"vfio.rw.enter\",\"ts\":" + (5 + n) + ",\"cpu\":0,\"pid\":7,\"tid\":7,\"comm\":\"u\","
                    + "\"dev\":\"0000:01:00.0\",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false}").getBytes(StandardCharsets.ISO_8859_1);
            s.reset();
            assertTrue(scanner.scan(line, 0, line.length));
            assertTrue(s.region == "config", "region " + s.region + " is another instance"); // identity is the point
        }
        assertEquals(2, scanner.shapeHits, "lines read by the first one's shape");
    }

    /** A shape's number in "reason" keeps its text as written ("-0" stays "-0"), as the field-by-field reading does. */
    @Test
    void aShapeKeepsAReasonNumberAsWritten() {
        Scratch s = new Scratch();
        LineScanner scanner = new LineScanner(s, new StringCache());
        for (String reason : List.of("3", "-0", "12", "-7", "0", "-0")) {
            byte[] line = ("{\"type\":\"pcie.link_event\",\"ts\":5,\"cpu\":0,\"pid\":0,\"tid\":0,\"comm\":\"swapper/0\","
                    + "\"dev\":\"0000:00:1c.0\",\"reason\":" + reason + "}").getBytes(StandardCharsets.ISO_8859_1);
            s.reset();
            assertTrue(scanner.scan(line, 0, line.length), reason);
            assertEquals(reason, s.reason);
            assertEquals(Long.parseLong(reason), s.reasonNum);
        }
        assertEquals(5, scanner.shapeHits, "lines read by the first one's shape");
    }

    /** Each field's integer (after a name's '":') replaced by another, valid or not, or kept. */
    static byte[] renumbered(byte[] l, Random r) {
        StringBuilder b = new StringBuilder();
        int i = 0;
        while (i < l.length) {
            byte c = l[i];
            b.append((char) (c & 0xff));
            i++;
            // a name's closing quote and colon, then a number (not a ':' inside a dev string like "0000:01:00.0")
            if (c != ':' || i < 2 || l[i - 2] != '"' || i >= l.length || !(l[i] == '-' || (l[i] >= '0' && l[i] <= '9'))) continue;
            int j = i + 1;
            while (j < l.length && l[j] >= '0' && l[j] <= '9') j++;
            int pick = r.nextInt(40);
            if (pick < 10) b.append(new String(l, i, j - i, StandardCharsets.ISO_8859_1)); // kept
            else if (pick < 38) b.append(VALID[r.nextInt(VALID.length)].replace("R", Long.toString(r.nextLong() % POWERS[r.nextInt(19)])));
            else b.append(DECLINED[r.nextInt(DECLINED.length)]);
            i = j;
        }
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** R: a random long of up to 18 digits, either sign. */
    private static final String[] VALID = {"0", "-0", "7", "-1", "42", "255", "4096", "R", "R", "R", "999999999999999999",
            "-999999999999999999"};
    private static final String[] DECLINED = {"1000000000000000000", "-1000000000000000000", "012", "-", "1.5", "1e3", "00", "-01"};
    private static final long[] POWERS = new long[19];

    static {
        POWERS[0] = 10;
        for (int i = 1; i < POWERS.length; i++) POWERS[i] = POWERS[i - 1] * 10;
    }

    private static List<byte[]> committedLines() throws IOException {
        List<byte[]> lines = new ArrayList<>();
        try (Stream<Path> s = Files.walk(TESTDATA)) {
            for (Path p : s.filter(f -> f.toString().matches(".*\\.jsonl(\\.gz)?$")).sorted().toList()) {
                try (InputStream in = TraceReader.decode(Files.newInputStream(p));
                     BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1))) {
                    for (String l; (l = r.readLine()) != null; ) lines.add(l.getBytes(StandardCharsets.ISO_8859_1));
                }
            }
        }
        assertTrue(lines.size() > 100_000, "committed traces not found under " + TESTDATA.toAbsolutePath());
        return lines;
    }

    /** Integers of 1 to 18 digits read as Long.parseLong reads them; 19 digits and more, and a non-digit inside, are declined. */
    @Test
    void integersOfEveryLength() {
        Random r = new Random(8);
        Scratch s = new Scratch();
        LineScanner scanner = new LineScanner(s, new StringCache());
        for (int n = 0; n < 400_000; n++) {
            int len = 1 + r.nextInt(20);
            StringBuilder d = new StringBuilder(r.nextInt(4) == 0 ? "-" : "");
            for (int i = 0; i < len; i++) d.append((char) ('0' + (i == 0 && len > 1 ? 1 + r.nextInt(9) : r.nextInt(10))));
            if (n % 7 == 0) d.setCharAt(d.length() - 1 - r.nextInt(len), (char) ('/' + r.nextInt(2) * 11)); // '/' or ':'
            byte[] line = ("{\"ts\":" + d + ",\"cpu\":1}").getBytes(StandardCharsets.ISO_8859_1);
            s.reset();
            boolean ok = scanner.scan(line, 0, line.length);
            boolean valid = d.toString().matches("-?[0-9]{1,18}");
            assertEquals(valid, ok, d.toString());
            if (valid) assertEquals(Long.parseLong(d.toString()), s.ts, d.toString());
        }
    }

    private static final byte[] TAIL = "\":,}0123456789\"\":".getBytes(StandardCharsets.ISO_8859_1);
    private static final byte[] NOISE = "\"\\:,{}[]0123456789abcdefxyz-_. \u0001\u007f\u00ff".getBytes(StandardCharsets.ISO_8859_1);

    /** One change: a byte replaced, removed or doubled, a cut, or a stretch repeated. */
    static byte[] mutant(byte[] l, Random r) {
        if (l.length < 2) return l;
        int at = 1 + r.nextInt(l.length - 1);
        return switch (r.nextInt(5)) {
            case 0 -> {
                byte[] m = l.clone();
                m[at] = NOISE[r.nextInt(NOISE.length)];
                yield m;
            }
            case 1 -> concat(java.util.Arrays.copyOfRange(l, 0, at), java.util.Arrays.copyOfRange(l, at + 1, l.length));
            case 2 -> concat(java.util.Arrays.copyOfRange(l, 0, at + 1), java.util.Arrays.copyOfRange(l, at, l.length));
            case 3 -> java.util.Arrays.copyOf(l, at);
            default -> {
                int len = 1 + r.nextInt(Math.min(12, l.length - at));
                yield concat(java.util.Arrays.copyOfRange(l, 0, at + len), java.util.Arrays.copyOfRange(l, at, l.length));
            }
        };
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /**
     * Every field of the scratch the line gave, as text: strings (reset for each line), and numbers and booleans
     * whose flag is set (a reader's scratch keeps the last value of an absent one; the flags say which hold).
     */
    static String dump(Scratch s) {
        long[] nums = {s.ts, s.cpu, s.pid, s.tid, s.severity, s.status, s.state, s.ret, s.result, s.cmd, s.offset, s.size,
                s.value, s.count, s.events, s.lost, s.since, s.until, s.reasonNum, s.entered, s.records, s.dropped, s.width,
                s.tlpValid ? 1 : 0, s.write ? 1 : 0, s.history ? 1 : 0, s.dllla ? 1 : 0};
        int[] flags = {Scratch.F_TS, Scratch.F_CPU, Scratch.F_PID, Scratch.F_TID, Scratch.F_SEVERITY, Scratch.F_STATUS,
                Scratch.F_STATE, Scratch.F_RET, Scratch.F_RESULT, Scratch.F_CMD, Scratch.F_OFFSET, Scratch.F_SIZE,
                Scratch.F_VALUE, Scratch.F_COUNT, Scratch.F_EVENTS, Scratch.F_LOST, Scratch.F_SINCE, Scratch.F_UNTIL,
                Scratch.F_REASON_NUM, Scratch.F_ENTERED, Scratch.F_RECORDS, Scratch.F_DROPPED, Scratch.F_WIDTH,
                Scratch.F_TLPVALID, Scratch.F_WRITE, Scratch.F_HISTORY, Scratch.F_DLLLA};
        StringBuilder b = new StringBuilder(String.join("|", String.valueOf(s.type), s.comm, s.dev, s.cb, s.driver, s.fn,
                s.ctx, s.cmdName, s.region, s.op, s.reason, s.event, s.slot, s.handler, s.stateName, s.reasonName));
        for (int i = 0; i < nums.length; i++) b.append('|').append((s.has & flags[i]) != 0 ? String.valueOf(nums[i]) : "-");
        return b.append("|has ").append(s.has).append("|fields ").append(s.fields).append('|')
                .append(java.util.Arrays.toString(s.tlp)).append('|').append(s.unknown).toString();
    }
}
