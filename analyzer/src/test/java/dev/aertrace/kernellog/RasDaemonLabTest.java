package dev.aertrace.kernellog;

import dev.aertrace.race.AnalyzedEpisode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real rasdaemon databases recorded in the lab by {@code lab/record-rasdaemon KERNEL}: Debian's own rasdaemon of the
 * kernel's suite, running in the guest while the host injected the errors listed in README.txt. The repo keeps no
 * binaries, so each database is committed as rasdaemon's SQLite file dumped to SQL ({@code sqlite3 DB .dump},
 * gzipped) and rebuilt here with the same driver the analyzer reads it with. Checked three ways: against what was
 * injected, against the kernel log of the same boot (every AER error the kernel printed is one aer_event row, same
 * device and severity), and through {@code aertrace history} and {@code aertrace compare}.
 */
class RasDaemonLabTest {
    static final Path DIR = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab")).resolve("rasdaemon");

    @TempDir static Path tmp;

    static List<Path> recordings() throws IOException {
        if (!Files.isDirectory(DIR)) return List.of();
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> Files.exists(p.resolve("ras-mc_event.sql.gz"))).sorted().toList();
        }
    }

    /** The committed SQL dump, as the SQLite database rasdaemon wrote. */
    static Path database(Path rec) throws Exception {
        Path db = tmp.resolve(rec.getFileName() + "-ras-mc_event.db");
        if (Files.exists(db)) return db;
        String sql;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(rec.resolve("ras-mc_event.sql.gz")))) {
            sql = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            // .dump writes one statement per line ending in ';' (no value here spans lines)
            StringBuilder cur = new StringBuilder();
            for (String line : sql.split("\n")) {
                cur.append(line).append('\n');
                if (line.endsWith(";")) {
                    String s = cur.toString().strip();
                    cur.setLength(0);
                    if (s.equals("BEGIN TRANSACTION;") || s.equals("COMMIT;")) continue;
                    st.executeUpdate(s);
                }
            }
        }
        return db;
    }

    /** README.txt: "injected: nonfatal fatal correctable ..." and "skipped: correctable ..." (kernel without aer_inject). */
    static Map<String, Long> injected(Path rec) throws IOException {
        Map<String, Long> m = new TreeMap<>();
        List<String> lines = Files.readAllLines(rec.resolve("README.txt"));
        List<String> skipped = new ArrayList<>();
        for (String l : lines) if (l.startsWith("skipped:")) skipped.addAll(List.of(l.substring(8).trim().split("\\s+")));
        for (String l : lines) {
            if (!l.startsWith("injected:")) continue;
            for (String k : l.substring(9).trim().split("\\s+")) {
                if (skipped.remove(k)) continue;
                m.merge(switch (k) {
                    case "nonfatal" -> "Uncorrected (Non-Fatal)";
                    case "fatal" -> "Uncorrected (Fatal)";
                    case "correctable" -> "Corrected";
                    default -> throw new IllegalStateException("unknown injection " + k);
                }, 1L, Long::sum);
            }
        }
        return m;
    }

    @Test
    void atLeastOneRealDatabaseIsCommitted() throws IOException {
        assertFalse(recordings().isEmpty(), "no lab/record-rasdaemon recording under " + DIR);
    }

    @TestFactory
    Stream<DynamicTest> theDatabaseHoldsWhatWasInjectedAndWhatTheKernelPrinted() throws IOException {
        return recordings().stream().map(rec -> DynamicTest.dynamicTest(rec.getFileName().toString(), () -> {
            RasDaemon.History h = RasDaemon.read(database(rec));
            assertEquals(List.of(), h.problems(), "rows rasdaemon wrote must all be readable");
            Map<String, Long> want = injected(rec);
            assertFalse(want.isEmpty());
            assertEquals(Map.of("0000:01:00.0", want), h.byDevice(), "per device and error type, as injected (" + rec.resolve("README.txt") + ")");
            // the same boot's kernel log: one episode per AER error the kernel printed, same device and severity
            List<AnalyzedEpisode> eps = new ArrayList<>();
            try (InputStream in = Files.newInputStream(rec.resolve("dmesg.gz"))) {
                new KernelLogAnalyzer().analyze(rec.resolve("dmesg.gz").toString(), in, eps::add);
            }
            Map<String, Map<String, Long>> fromLog = new TreeMap<>();
            for (AnalyzedEpisode a : eps)
                fromLog.computeIfAbsent(a.episode().device(), k -> new TreeMap<>())
                        .merge(RasCompare.TYPES.get(a.episode().severity() == 2 ? 0 : a.episode().severity() == 0 ? 1 : 2), 1L, Long::sum);
            assertEquals(fromLog, h.byDevice(), "rasdaemon's rows vs the kernel log of the same boot");
            assertNotNull(h.first());
        }));
    }

    @TestFactory
    Stream<DynamicTest> historyCountsTheRealDatabase() throws IOException {
        return recordings().stream().map(rec -> DynamicTest.dynamicTest(rec.getFileName().toString(), () -> {
            Map<String, Long> want = injected(rec);
            KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("history", database(rec).toString());
            assertEquals(0, c.code(), c.err());
            long total = want.values().stream().mapToLong(Long::longValue).sum();
            StringBuilder line = new StringBuilder("0000:01:00.0  " + total + ":");
            want.forEach((t, n) -> line.append("  ").append(t).append(" ×").append(n));
            assertTrue(c.out().contains(line), "expected \"" + line + "\" in\n" + c.out());
            assertTrue(c.out().contains(total + " AER event" + (total == 1 ? "" : "s")), c.out());
        }));
    }

    /** Every recorded kernel side by side: the counts are rasdaemon's, the groups the kernels they ran. */
    @Test
    void compareTheKernelsRealDatabases() throws Exception {
        List<Path> recs = recordings();
        List<String> args = new ArrayList<>(List.of("compare", "--format", "json"));
        for (Path r : recs) args.addAll(List.of("-l", r.getFileName().toString()));
        for (Path r : recs) args.add(database(r).toString());
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli(args.toArray(String[]::new));
        assertEquals(0, c.code(), c.err());
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(c.out());
        long all = 0;
        for (Path r : recs) {
            long want = injected(r).values().stream().mapToLong(Long::longValue).sum();
            all += want;
            boolean found = false;
            for (com.fasterxml.jackson.databind.JsonNode k : j.path("kernels"))
                if (k.path("group").asText().equals(r.getFileName().toString())) {
                    assertEquals(want, k.path("errors").asLong(), r.toString());
                    found = true;
                }
            assertTrue(found, c.out());
        }
        assertEquals("0000:01:00.0", j.path("devices").get(0).path("device").asText());
        assertEquals(all, j.path("devices").get(0).path("errors").asLong());
    }
}
