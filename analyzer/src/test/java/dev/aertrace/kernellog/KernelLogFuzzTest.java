package dev.aertrace.kernellog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The project's fuzzer (dev.aertrace.fuzz.FuzzTest) mutates traces only; this does the same for the kernel logs the
 * lab recorded: a window around the AER messages of each real log, damaged one to three ways (lines deleted,
 * repeated, swapped, cut mid-line, bytes flipped, invalid UTF-8, NUL, absurd or negative timestamps, a line
 * re-stamped in another log format, the gzip cut short), through every command a user runs on a log, in process.
 * Properties: nothing escapes as an internal error, the exit code is one the command documents, the output is
 * bounded. Fixed seed (the build judges the code, not the draw); {@code -Daertrace.kfuzz.seed=N
 * -Daertrace.kfuzz.mutants=M} explores.
 */
class KernelLogFuzzTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));
    static final long OUTPUT_CAP = 16L << 20;

    static List<Path> logs() throws IOException {
        try (Stream<Path> s = Files.walk(LAB)) {
            return s.filter(p -> p.toString().endsWith(".dmesg.gz") || p.getFileName().toString().equals("dmesg.gz")).sorted().toList();
        }
    }

    static List<String> lines(Path gz) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            return List.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n"));
        }
    }

    /** The AER part of a log with some context: a recovery's evidence is local, and small inputs keep runs fast. */
    static List<String> window(List<String> all, Random r) {
        List<Integer> aer = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) if (all.get(i).contains("AER") || all.get(i).contains("vfio")) aer.add(i);
        if (aer.isEmpty()) return all.subList(0, Math.min(all.size(), 80));
        int at = aer.get(r.nextInt(aer.size()));
        return new ArrayList<>(all.subList(Math.max(0, at - 10 - r.nextInt(30)), Math.min(all.size(), at + 10 + r.nextInt(60))));
    }

    static final String[] STAMPS = {"[99999999999.999999]", "[-1.000000]", "[    0.000000]", "[18446744073.709551]",
            "[12.3]", "[]", "[ 1e9.0]", "2026-13-45T25:61:61,000000+99:99", "<9>[  1.000000]", "6,1,-5,-;"};

    record Mutant(byte[] data, List<String> ops) {}

    static Mutant mutate(List<String> window, Random r) throws IOException {
        List<String> l = new ArrayList<>(window);
        List<String> ops = new ArrayList<>();
        int n = 1 + r.nextInt(3);
        boolean gzipCut = false;
        byte[] bytes = null;
        for (int k = 0; k < n && !l.isEmpty(); k++) {
            int i = r.nextInt(l.size());
            switch (r.nextInt(10)) {
                case 0 -> { int m = 1 + r.nextInt(Math.min(8, l.size())); for (int j = 0; j < m && i < l.size(); j++) l.remove(i); ops.add("delete " + m + " at " + i); }
                case 1 -> { for (int j = r.nextInt(50); j >= 0; j--) l.add(i, l.get(i)); ops.add("repeat line " + i); }
                case 2 -> { int j = r.nextInt(l.size()); String t = l.get(i); l.set(i, l.get(j)); l.set(j, t); ops.add("swap " + i + " " + j); }
                case 3 -> { String s = l.get(i); l.set(i, s.substring(0, r.nextInt(s.length() + 1))); ops.add("cut line " + i); }
                case 4 -> { String s = l.get(i); int b = s.indexOf(']'); String st = STAMPS[r.nextInt(STAMPS.length)];
                    l.set(i, b > 0 ? st + s.substring(b + 1) : st + " " + s); ops.add("stamp " + st + " on " + i); }
                case 5 -> { String s = l.get(i); int b = s.indexOf(']');
                    l.set(i, b > 0 ? "2026-12-02T01:02:03,456789+00:00" + s.substring(b + 1) : s); ops.add("iso stamp on " + i); }
                case 6 -> { l.add(i, "x".repeat(r.nextInt(3) == 0 ? 2_000_000 : 5000)); ops.add("long line at " + i); }
                case 7 -> { l.subList(i, l.size()).clear(); ops.add("end at line " + i); }
                case 8 -> { bytes = String.join("\n", l).getBytes(StandardCharsets.UTF_8);
                    for (int j = 1 + r.nextInt(5); j > 0 && bytes.length > 0; j--) {
                        int at = r.nextInt(bytes.length);
                        bytes[at] = switch (r.nextInt(3)) { case 0 -> 0; case 1 -> (byte) 0xC3; default -> (byte) r.nextInt(256); };
                    }
                    ops.add("bytes damaged"); }
                default -> { gzipCut = true; ops.add("gzip cut"); }
            }
            if (bytes != null && k < n - 1) {
                l = new ArrayList<>(List.of(new String(bytes, StandardCharsets.ISO_8859_1).split("\n", -1)));
                bytes = null;
            }
        }
        byte[] data = bytes != null ? bytes : (String.join("\n", l) + "\n").getBytes(StandardCharsets.UTF_8);
        if (gzipCut) {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            try (GZIPOutputStream g = new GZIPOutputStream(bo)) { g.write(data); }
            byte[] z = bo.toByteArray();
            data = java.util.Arrays.copyOf(z, Math.max(10, z.length - 1 - r.nextInt(Math.max(1, z.length / 2))));
        }
        return new Mutant(data, ops);
    }

    enum Command {
        ANALYZE(Set.of(0, 1, 2, 3, 4)), ANALYZE_JSON(Set.of(0, 1, 2, 3, 4)), TIMELINE(Set.of(0, 1, 2)), EXPORT_CSV(Set.of(0, 1, 2)),
        EXPORT_CHROME(Set.of(0, 1, 2));

        final Set<Integer> codes;

        Command(Set<Integer> codes) { this.codes = codes; }

        String[] args(Path in, Path out) {
            return switch (this) {
                case ANALYZE -> new String[] {"analyze", in.toString()};
                case ANALYZE_JSON -> new String[] {"analyze", "--format", "json", in.toString()};
                case TIMELINE -> new String[] {"timeline", in.toString()};
                case EXPORT_CSV -> new String[] {"export", "--format", "csv", "-o", out.resolve("csv").toString(), in.toString()};
                case EXPORT_CHROME -> new String[] {"export", "--format", "chrome", "-o", out.resolve("t.json").toString(), in.toString()};
            };
        }
    }

    @Test
    void damagedRealKernelLogsNeverCrashAnyCommand(@TempDir Path tmp) throws IOException {
        long seed = Long.getLong("aertrace.kfuzz.seed", 20261202L);
        int mutants = Integer.getInteger("aertrace.kfuzz.mutants", 300);
        long budget = Long.getLong("aertrace.kfuzz.seconds", 45) * 1_000_000_000L;
        List<Path> logs = logs();
        assertTrue(logs.size() >= 10, "the lab's kernel logs under " + LAB + ": " + logs);
        List<List<String>> cache = new ArrayList<>();
        for (Path p : logs) cache.add(lines(p));
        List<String> failures = new ArrayList<>();
        long t0 = System.nanoTime();
        int done = 0;
        int[] byCode = new int[8];
        for (int i = 0; i < mutants && System.nanoTime() - t0 < budget; i++, done++) {
            Random r = new Random(seed * 1_000_003L + i);
            int li = r.nextInt(logs.size());
            Mutant m = mutate(window(cache.get(li), r), r);
            Command c = Command.values()[i % Command.values().length];
            Path in = tmp.resolve("m" + i + ".log");
            Files.write(in, m.data());
            Path out = Files.createDirectories(tmp.resolve("o" + i));
            KernelLogFormatsTest.Cli res = KernelLogFormatsTest.cli(c.args(in, out));
            String problem = null;
            if (res.err().contains("internal error") || res.err().contains("Exception") || res.err().contains("\tat "))
                problem = "exception: " + res.err().lines().limit(6).toList();
            else if (!c.codes.contains(res.code())) problem = "exit " + res.code() + ": " + res.err().lines().limit(3).toList();
            else if (res.out().length() + res.err().length() > OUTPUT_CAP) problem = "output " + res.out().length() + " chars";
            else if (res.code() == 2 && res.err().isBlank() && res.out().isBlank()) problem = "exit 2 without a word";
            else if (m.ops().stream().anyMatch(o -> o.startsWith("gzip cut")) && res.out().contains("not an aertrace trace"))
                problem = "a cut .gz of a kernel log read as a trace: " + res.out().lines().limit(3).toList();
            byCode[Math.min(7, Math.max(0, res.code()))]++;
            if (problem != null) {
                failures.add("seed " + seed + " mutant " + i + " " + LAB.relativize(logs.get(li)) + " " + c + " " + m.ops() + ": " + problem
                        + " (kept as target/kfuzz-failures/m" + i + ".log)");
                Files.createDirectories(Path.of("target/kfuzz-failures"));
                Files.copy(in, Path.of("target/kfuzz-failures/m" + i + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                if (failures.size() >= 10) break;
            }
            Files.delete(in);
        }
        System.out.printf("kernel-log fuzz: %d mutants (seed %d) in %.1f s; exit codes 0..4: %d %d %d %d %d%n", done, seed,
                (System.nanoTime() - t0) / 1e9, byCode[0], byCode[1], byCode[2], byCode[3], byCode[4]);
        // the time box ends a run early on a loaded machine (load 30 here: ~1 s a mutant); below 20 it proves too little
        assertTrue(done >= Math.min(mutants, 20), "too few mutants ran: " + done);
        assertEquals(List.of(), failures);
    }
}
