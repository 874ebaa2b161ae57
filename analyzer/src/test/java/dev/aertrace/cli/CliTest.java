package dev.aertrace.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.Scenarios;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CliTest {
    record Out(int code, String out, String err) {}

    static synchronized Out run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Out(code, bo.toString(StandardCharsets.UTF_8), be.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @TempDir Path tmp;

    Path write(String name, byte[] data) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, data);
        return p;
    }

    /**
     * A command line naming a subcommand gets only that one built (startup, issue 13); anything else gets all, and
     * the table's names are the commands' own.
     */
    @Test
    void onlyTheNamedSubcommandIsBuiltAndTheTableMatchesTheCommandsNames() {
        assertEquals(List.of("analyze"), List.copyOf(Main.commandLine("analyze", "x").getSubcommands().keySet()));
        assertEquals(List.of("chart-bench"), List.copyOf(Main.commandLine("chart-bench").getSubcommands().keySet()));
        var all = Main.commandLine("--help").getSubcommands();
        assertEquals(List.of("analyze", "record", "bench", "chart", "timeline", "export", "compare", "history",
                "chart-bench", "fleet", "generate-completion", "help"), List.copyOf(all.keySet()));
        all.forEach((name, sub) -> assertEquals(name, new picocli.CommandLine(sub.getCommand()).getCommandName(), name));
        assertEquals(all.keySet(), Main.commandLine("help", "analyze").getSubcommands().keySet());
        assertEquals(all.keySet(), Main.commandLine("analyse").getSubcommands().keySet());
        assertEquals(all.keySet(), Main.commandLine().getSubcommands().keySet());
        Out typo = run("analyse");
        assertEquals(2, typo.code());
        assertTrue(typo.err().contains("analyze"), typo.err()); // picocli's suggestion needs every name
        Out help = run("help", "analyze");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("Usage: aertrace analyze"), help.out());
    }

    @Test
    void raceExitCodeAndTextFitsEightyColumns() throws Exception {
        Out r = run("analyze", write("race.jsonl", Scenarios.stalled().bytes()).toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.out().contains("access-stalled-by-reset"), r.out());
        for (String line : r.out().split("\n")) assertTrue(line.length() <= 80, "too wide: " + line);
    }

    @Test
    void exitCodesForCleanInconclusiveAndFailed() throws Exception {
        assertEquals(0, run("analyze", write("c.jsonl", Scenarios.nonfatal().bytes()).toString()).code());
        assertEquals(3, run("analyze", write("i.jsonl", Scenarios.lostInWindow().bytes()).toString()).code());
        assertEquals(4, run("analyze", write("f.jsonl", Scenarios.recoveryFailed().bytes()).toString()).code());
    }

    @Test
    void lostEventsWithoutAnyEpisodeAreNotAConfidentClean() throws Exception {
        dev.aertrace.Tr t = dev.aertrace.Tr.lab().lost(1_000, 0, 3)
                .cfgRead(2_000, 2_010, dev.aertrace.Tr.USER, dev.aertrace.Tr.EP, 4, 2, 0x0406).footer(3_000);
        Out r = run("analyze", write("lost.jsonl", t.bytes()).toString());
        assertEquals(3, r.code(), r.out());
        assertTrue(r.out().contains("0 episodes") && r.out().contains("errors may be missing"), r.out());
        Out j = run("analyze", "--format", "json", write("lost2.jsonl", t.bytes()).toString());
        assertTrue(new ObjectMapper().readTree(j.out()).get("summary").get("input_gaps").asBoolean());
    }

    @Test
    void jsonReportIsVersionedAndComplete() throws Exception {
        Out r = run("analyze", "--format", "json", write("race.jsonl", Scenarios.stalled().bytes()).toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(3, j.get("report_version").asInt()); // 2 with --accesses all (CompactJsonTest)
        assertEquals(1, j.get("exit_code").asInt());
        JsonNode ep = j.get("episodes").get(0);
        assertEquals("race", ep.get("outcome").asText());
        assertEquals("0000:00:02.0", ep.get("bridge").asText());
        assertEquals("SDES", ep.get("aer_status_bits").get(0).asText());
        JsonNode v = ep.get("verdicts");
        boolean stalled = false;
        for (JsonNode x : v) if (x.get("kind").asText().equals("access-stalled-by-reset")) {
            stalled = true;
            assertTrue(x.get("evidence").size() >= 4);
            assertTrue(x.get("evidence").get(0).get("line").asLong() > 1);
        }
        assertTrue(stalled);
        assertEquals(1, j.get("sources").size());
        assertEquals(1, j.get("summary").get("outcomes").get("race").asInt());
    }

    @Test
    void jsonWithSeveralInputsKeepsEpisodesAndSourcesApart() throws Exception {
        Out r = run("analyze", "--format", "json", write("a.jsonl", Scenarios.stalled().bytes()).toString(),
                write("b.jsonl", Scenarios.backToBack().bytes()).toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(3, j.get("episodes").size());
        assertEquals(2, j.get("sources").size());
        for (JsonNode s : j.get("sources")) assertTrue(s.has("lines") && !s.has("outcome"), s.toString());
        assertEquals(3, j.get("summary").get("episodes").asInt());
    }

    @Test
    void badOptionsAndUnreadableFiles() throws Exception {
        Out r = run("analyze", "--no-such-option");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Unknown option"), r.err());
        r = run("analyze", tmp.resolve("missing.jsonl").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cannot read") && r.err().contains("no such file"), r.err());
        r = run("analyze", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is a directory"), r.err());
        r = run("analyze", "--settle", "abc", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--settle"), r.err());
        r = run("analyze", write("notes.txt", "# not a trace\nhello\n".getBytes(StandardCharsets.UTF_8)).toString());
        assertEquals(2, r.code());
        assertTrue(r.out().contains("not an aertrace trace"), r.out());
        r = run("analyze", write("empty.jsonl", new byte[0]).toString());
        assertEquals(2, r.code());
        assertTrue(r.out().contains("empty-input"), r.out());
    }

    @Test
    void helpHasExamplesAndCompletionIsGenerated() {
        Out r = run("analyze", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Examples:") && r.out().contains("Exit codes"), r.out());
        r = run("generate-completion");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("complete -F") && r.out().contains("analyze"), r.out().substring(0, 200));
    }

    @Test
    void defaultAnalyzesTheEmbeddedTrace() {
        Out r = run("analyze");
        assertTrue(r.err().contains("embedded"), r.err());
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("access-during-reset"), r.out());
    }

    /** record --listen: a stand-in agent connects over TCP as `aertrace-agent --connect` does. */
    @Test
    void recordListensForARemoteAgent() throws Exception {
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) { port = probe.getLocalPort(); }
        byte[] trace = Scenarios.stalled().bytes();
        final int p = port;
        Thread agent = new Thread(() -> {
            for (int i = 0; i < 100; i++) {
                try (java.net.Socket s = new java.net.Socket("127.0.0.1", p)) {
                    s.getOutputStream().write(trace);
                    return;
                } catch (java.io.IOException notYet) {
                    try { Thread.sleep(100); } catch (InterruptedException e) { return; }
                }
            }
        });
        agent.start();
        Out r = run("record", "--listen", "127.0.0.1:" + port, "--clients", "1");
        agent.join(10_000);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("listening on 127.0.0.1:" + port), r.err());
        assertTrue(r.out().contains("access-stalled-by-reset"), r.out());
        assertEquals(2, run("record", "--listen", "1234", "--device", "0000:01:00.0").code());
    }

    /**
     * record with a stand-in agent: the real agent needs root, bcc and kprobes on the host kernel, which a unit
     * test cannot have. The stand-in is a shell script printing a trace, exactly what `agent -o -` writes.
     */
    @Test
    void recordAnalyzesTheAgentsStream() throws Exception {
        Path trace = write("live.jsonl", Scenarios.stalled().bytes());
        Path fake = tmp.resolve("fake-agent");
        Files.writeString(fake, "import sys\nassert sys.argv[1:3] == ['-o', '-'], sys.argv\n"
                + "assert sys.argv[3:5] == ['--device', '0000:01:00.0'], sys.argv\n"
                + "sys.stderr.write('aertrace-agent: ready\\n')\nsys.stdout.write(open('" + trace + "').read())\n");
        Path saved = tmp.resolve("saved.jsonl");
        Out r = run("record", "--python", "/usr/bin/python3", "--agent", fake.toString(), "--device", "0000:01:00.0",
                "--save", saved.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.out().contains("access-stalled-by-reset"), r.out());
        assertArrayEquals(Files.readAllBytes(trace), Files.readAllBytes(saved));
        Out bad = run("record", "--device", "1:0.0");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("expected a PCI name"), bad.err());
    }

    /** The agent's --device grammar, from the table its own tests read too (testdata/device-names.tsv). */
    @Test
    void recordDeviceGrammarIsTheAgents() throws Exception {
        List<String> rows = Files.readAllLines(Path.of("../testdata/device-names.tsv"));
        int n = 0;
        for (String row : rows) {
            if (row.startsWith("#")) continue;
            String[] f = row.split("\t", -1);
            n++;
            if (f[1].equals("-")) {
                assertThrows(IllegalArgumentException.class, () -> RecordCommand.deviceNames(f[0]), "'" + f[0] + "'");
            } else {
                assertEquals(List.of(f[1].split(",")), RecordCommand.deviceNames(f[0]), "'" + f[0] + "'");
            }
        }
        assertTrue(n > 10, "the table has rows");
        Out upper = run("record", "--device", "0000:0G:00.0");
        assertEquals(2, upper.code());
        assertTrue(upper.err().contains("--device 0000:0G:00.0: expected a PCI name"), upper.err());
    }
}
