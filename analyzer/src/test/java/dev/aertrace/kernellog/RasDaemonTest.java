package dev.aertrace.kernellog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * rasdaemon's database. Debian's rasdaemon is not in the lab's guest image (the lab owns that image; adding a
 * package rebuilds every cached guest), so these databases are created by the test with the aer_event table as
 * rasdaemon's ras-record.c creates it (id INTEGER PRIMARY KEY, timestamp TEXT, dev_name TEXT, err_type TEXT,
 * err_msg TEXT; timestamps "%Y-%m-%d %H:%M:%S %z", err_type from ras-aer-handler.c) and rows for the errors the
 * lab injects (DLP fatal, Poisoned TLP non-fatal, Bad TLP correctable on 0000:01:00.0).
 */
class RasDaemonTest {
    @TempDir Path tmp;

    Path db(String name, Object[][] rows) throws Exception {
        Path p = tmp.resolve(name);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + p)) {
            c.createStatement().execute("CREATE TABLE IF NOT EXISTS aer_event (id INTEGER PRIMARY KEY, timestamp TEXT,"
                    + " dev_name TEXT, err_type TEXT, err_msg TEXT)");
            try (PreparedStatement s = c.prepareStatement("INSERT INTO aer_event (timestamp, dev_name, err_type, err_msg) VALUES (?,?,?,?)")) {
                for (Object[] r : rows) {
                    for (int i = 0; i < 4; i++) s.setString(i + 1, (String) r[i]);
                    s.executeUpdate();
                }
            }
        }
        return p;
    }

    static final Object[][] HOST_A = {
            {"2026-12-01 22:44:31 +0000", "0000:01:00.0", "Uncorrected (Fatal)", "Data Link Protocol"},
            {"2026-12-01 22:46:02 +0000", "0000:01:00.0", "Uncorrected (Non-Fatal)", "Poisoned TLP TLP Header: 00000000 00000000 00000000 00000000"},
            {"2026-12-01 22:47:40 +0000", "0000:01:00.0", "Corrected", "Bad TLP"},
            {"2026-12-01 22:47:41 +0000", "0000:01:00.0", "Corrected", "Bad TLP | Receiver Error"},
            {"2026-12-01 22:50:00 +0000", "0000:3b:00.0", "Uncorrected (Fatal)", "Surprise Down Error"},
    };

    @Test
    void countsPerDeviceTypeAndBitReadOnly() throws Exception {
        Path p = db("ras-mc_event.db", HOST_A);
        byte[] before = Files.readAllBytes(p);
        RasDaemon.History h = RasDaemon.read(p);
        assertEquals(5, h.rows());
        assertEquals(Map.of("Corrected", 2L, "Uncorrected (Fatal)", 1L, "Uncorrected (Non-Fatal)", 1L), h.byDevice().get("0000:01:00.0"));
        assertEquals(2L, h.byBit().get("Bad TLP"));
        assertEquals(1L, h.byBit().get("Receiver Error"));
        assertEquals(1L, h.byBit().get("Poisoned TLP"), "the TLP header rasdaemon appends is not a bit name");
        assertEquals("2026-12-01 22:44:31 +0000", h.first());
        assertEquals("2026-12-01 22:50:00 +0000", h.last());
        assertTrue(h.problems().isEmpty());
        assertArrayEquals(before, Files.readAllBytes(p), "opened read-only: the file is unchanged");
    }

    @Test
    void rankingAcrossHostsAndBadRowsByTheirId() throws Exception {
        Path a = db("a.db", HOST_A);
        Path b = db("b.db", new Object[][] {
                {"2026-12-02 01:00:00 +0000", "0000:01:00.0", "Uncorrected (Fatal)", "Data Link Protocol"},
                {"yesterday", "0000:01:00.0", "Corrected", "Bad TLP"},
                {"2026-12-02 01:00:02 +0000", "0000:02:00.0", "Sideways", "?"}});
        RasDaemon.History hb = RasDaemon.read(b);
        assertEquals(List.of(new RasDaemon.Problem(2, "unreadable timestamp yesterday"), new RasDaemon.Problem(3, "unknown err_type Sideways")),
                hb.problems());
        List<Map.Entry<String, Long>> rank = RasDaemon.ranking(List.of(RasDaemon.read(a), hb));
        assertEquals(a + " 0000:01:00.0", rank.get(0).getKey());
        assertEquals(4L, rank.get(0).getValue());
    }

    @Test
    void notADatabaseOrNotRasdaemonsIsAClearErrorAndExit2() throws Exception {
        Path txt = tmp.resolve("x.db");
        Files.writeString(txt, "hello\n");
        assertThrows(RasDaemon.NotRasDaemon.class, () -> RasDaemon.read(txt));
        Path other = tmp.resolve("other.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + other)) {
            c.createStatement().execute("CREATE TABLE mc_event (id INTEGER PRIMARY KEY)");
        }
        RasDaemon.NotRasDaemon e = assertThrows(RasDaemon.NotRasDaemon.class, () -> RasDaemon.read(other));
        assertTrue(e.getMessage().contains("aer_event"), e.getMessage());
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("history", other.toString());
        assertEquals(2, c.code());
        assertTrue(c.err().contains("without rasdaemon's aer_event table"), c.err());
        KernelLogFormatsTest.Cli an = KernelLogFormatsTest.cli("analyze", other.toString());
        assertEquals(2, an.code());
        assertTrue(an.err().contains("aertrace history"), an.err());
    }

    @Test
    void historyCommandText() throws Exception {
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("history", db("h.db", HOST_A).toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("5 AER events, 2026-12-01 22:44:31 +0000 .. 2026-12-01 22:50:00 +0000"), c.out());
        assertTrue(c.out().contains("0000:01:00.0  4:  Corrected ×2  Uncorrected (Fatal) ×1  Uncorrected (Non-Fatal) ×1"), c.out());
    }

    static final Object[][] HOST_B = {
            {"2026-12-02 01:00:00 +0000", "0000:01:00.0", "Uncorrected (Fatal)", "Data Link Protocol"},
            {"2026-12-02 01:00:01 +0000", "0000:01:00.0", "Uncorrected (Fatal)", "Data Link Protocol"},
            {"2026-12-02 01:00:02 +0000", "0000:02:00.0", "Corrected", "Receiver Error"}};

    @Test
    void compareCountsPerKernelDeviceAndTypeAcrossDatabases() throws Exception {
        Path a = db("a.db", HOST_A), b = db("b.db", HOST_B), a2 = db("a2.db", new Object[][] {
                {"2026-12-02 02:00:00 +0000", "0000:3b:00.0", "Uncorrected (Fatal)", "Surprise Down Error"}});
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("compare", "--format", "json", "-l", "6.1", "-l", "6.12", "-l", "6.1",
                a.toString(), b.toString(), a2.toString());
        assertEquals(0, c.code(), c.err());
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(c.out());
        Map<String, String> rows = new java.util.TreeMap<>();
        for (com.fasterxml.jackson.databind.JsonNode r : j.path("rows"))
            rows.put(r.path("group").asText() + " " + r.path("device").asText(), r.path("byType").toString() + " " + r.path("total").asLong());
        assertEquals(Map.of(
                "6.1 0000:01:00.0", "{\"Corrected\":2,\"Uncorrected (Fatal)\":1,\"Uncorrected (Non-Fatal)\":1} 4",
                "6.1 0000:3b:00.0", "{\"Uncorrected (Fatal)\":2} 2",
                "6.12 0000:01:00.0", "{\"Uncorrected (Fatal)\":2} 2",
                "6.12 0000:02:00.0", "{\"Corrected\":1} 1"), rows, "the two 6.1 databases are added up");
        List<String> kernels = new java.util.ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode k : j.path("kernels")) kernels.add(k.path("group").asText() + "=" + k.path("errors").asLong());
        assertEquals(List.of("6.1=6", "6.12=3"), kernels, "kernels by errors, most first");
        assertEquals("0000:01:00.0", j.path("devices").get(0).path("device").asText(), "the device that errors most");
        assertEquals(6, j.path("devices").get(0).path("errors").asLong());

        KernelLogFormatsTest.Cli t = KernelLogFormatsTest.cli("compare", "--only", "fatal", "-l", "6.1", "-l", "6.12", a.toString(), b.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("(only Uncorrected (Fatal))"), t.out());
        assertTrue(t.out().matches("(?s).*6\\.1 +0000:01:00\\.0 +0 +0 +1 +1\\n.*"), t.out());
        assertTrue(t.out().matches("(?s).*6\\.12 +0000:01:00\\.0 +0 +0 +2 +2\\n.*"), t.out());
        assertFalse(t.out().contains("0000:02:00.0"), "a device with only correctable errors is not in --only fatal: " + t.out());
        assertTrue(t.out().contains("rasdaemon records no kernel release"), t.out());
    }

    @Test
    void compareRefusesDatabasesMixedWithTracesAndOptionsWithoutMeaning() throws Exception {
        Path a = db("a.db", HOST_A);
        Path trace = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"), "6.1", "fatal-race.jsonl.gz");
        KernelLogFormatsTest.Cli mixed = KernelLogFormatsTest.cli("compare", a.toString(), trace.toString());
        assertEquals(2, mixed.code());
        assertTrue(mixed.err().contains("not an SQLite database: rasdaemon databases are compared with each other"), mixed.err());
        KernelLogFormatsTest.Cli split = KernelLogFormatsTest.cli("compare", "--split", a.toString());
        assertEquals(2, split.code());
        assertTrue(split.err().contains("--split"), split.err());
        KernelLogFormatsTest.Cli labels = KernelLogFormatsTest.cli("compare", "-l", "x", a.toString(), a.toString());
        assertEquals(2, labels.code());
    }
}
