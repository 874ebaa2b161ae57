package dev.aertrace.kernellog;

import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteOpenMode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * rasdaemon's SQLite database ({@code /var/lib/rasdaemon/ras-mc_event.db}), opened read-only: its {@code aer_event}
 * table — {@code id, timestamp ("%Y-%m-%d %H:%M:%S %z"), dev_name, err_type ("Corrected" | "Uncorrected
 * (Non-Fatal)" | "Uncorrected (Fatal)"), err_msg (the status bits by name, newer versions append the TLP header)}
 * as rasdaemon's ras-record.c creates it — as AER history: counts per device and error type, per bit name, first
 * and last seen. Memory is bounded by the distinct devices and bit names, not by the rows.
 */
public final class RasDaemon {
    private RasDaemon() {}

    /** One problem row or table, by rasdaemon's row id. */
    public record Problem(long id, String what) {}

    /** Counts of one database. */
    public record History(String source, long rows, Map<String, Map<String, Long>> byDevice, Map<String, Long> byBit,
                          String first, String last, List<Problem> problems, long problemCount) {
        public long total(String dev) {
            return byDevice.getOrDefault(dev, Map.of()).values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /** Raised for a file that is not a readable rasdaemon database; the message says why in one line. */
    public static final class NotRasDaemon extends Exception {
        NotRasDaemon(String m) { super(m, null, false, false); }
    }

    static final byte[] MAGIC = "SQLite format 3\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z");

    public static boolean isSqlite(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(MAGIC.length);
            return java.util.Arrays.equals(b, MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    public static History read(Path db) throws NotRasDaemon {
        if (!isSqlite(db)) throw new NotRasDaemon("not an SQLite database");
        SQLiteConfig cfg = new SQLiteConfig();
        cfg.setReadOnly(true);
        cfg.setOpenMode(SQLiteOpenMode.READONLY);
        // immutable=1 would skip locking on a live rasdaemon's file; ro keeps SQLite's own consistency checks
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:file:" + db.toAbsolutePath() + "?mode=ro", cfg.toProperties());
             Statement st = c.createStatement()) {
            try (ResultSet t = st.executeQuery("SELECT name FROM sqlite_master WHERE type='table' AND name='aer_event'")) {
                if (!t.next()) throw new NotRasDaemon("an SQLite database without rasdaemon's aer_event table"
                        + " (rasdaemon built without AER support, or not rasdaemon's ras-mc_event.db)");
            }
            Map<String, Map<String, Long>> byDev = new TreeMap<>();
            Map<String, Long> byBit = new TreeMap<>();
            List<Problem> problems = new ArrayList<>();
            long rows = 0, nProblems = 0;
            String first = null, last = null;
            OffsetDateTime firstT = null, lastT = null;
            try (ResultSet r = st.executeQuery("SELECT id, timestamp, dev_name, err_type, err_msg FROM aer_event ORDER BY id")) {
                while (r.next()) {
                    rows++;
                    long id = r.getLong(1);
                    String ts = r.getString(2), dev = r.getString(3), type = r.getString(4), msg = r.getString(5);
                    String bad = null;
                    if (dev == null || dev.isBlank()) bad = "no dev_name";
                    else if (type == null || KernelLogReader.severity(type) == null) bad = "unknown err_type " + type;
                    OffsetDateTime t = null;
                    if (ts != null) {
                        try {
                            t = OffsetDateTime.parse(ts, TS);
                        } catch (DateTimeParseException e) {
                            if (bad == null) bad = "unreadable timestamp " + ts;
                        }
                    }
                    if (bad != null) {
                        nProblems++;
                        if (problems.size() < 20) problems.add(new Problem(id, bad));
                        if (dev == null || dev.isBlank() || type == null) continue;
                    }
                    if (byDev.size() < 10_000 || byDev.containsKey(dev))
                        byDev.computeIfAbsent(dev, k -> new TreeMap<>()).merge(type, 1L, Long::sum);
                    if (msg != null) {
                        String bits = msg.contains("TLP Header") ? msg.substring(0, msg.indexOf("TLP Header")) : msg;
                        for (String b : bits.split("\\|")) {
                            String n = b.strip();
                            if (!n.isEmpty() && (byBit.size() < 1000 || byBit.containsKey(n))) byBit.merge(n, 1L, Long::sum);
                        }
                    }
                    if (t != null) {
                        if (firstT == null || t.isBefore(firstT)) { firstT = t; first = ts; }
                        if (lastT == null || t.isAfter(lastT)) { lastT = t; last = ts; }
                    }
                }
            }
            return new History(db.toString(), rows, byDev, byBit, first, last, List.copyOf(problems), nProblems);
        } catch (SQLException e) {
            throw new NotRasDaemon("SQLite could not read it: " + e.getMessage());
        }
    }

    /** Devices across databases, most errors first: "which devices error most". */
    public static List<Map.Entry<String, Long>> ranking(List<History> hs) {
        Map<String, Long> all = new LinkedHashMap<>();
        for (History h : hs)
            for (String dev : h.byDevice().keySet())
                all.merge((hs.size() > 1 ? h.source() + " " : "") + dev, h.total(dev), Long::sum);
        List<Map.Entry<String, Long>> out = new ArrayList<>(all.entrySet());
        out.sort(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        return out;
    }
}
