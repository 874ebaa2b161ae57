package dev.aertrace.race;

import dev.aertrace.pipeline.Analyzer;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.Episode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every field trace (testdata/field: aertrace-agent on an independent lab set-up, README there) against the
 * ground truth recorded by bpftrace in the same boot (NAME.truth.txt.gz): episodes, devices, severity, reset
 * bridge, result, held reads within 1 ms of the kernel's, reset verdicts, per-device verdicts, the device loss —
 * and the rule of evidence: no confident verdict where the trace itself shows a loss (a broken enter/exit pair,
 * found here independently of the analyzer) inside the verdict's span.
 */
class FieldTraceTest {
    static final Path DIR = Path.of(System.getProperty("aertrace.fielddir", "../testdata/field"));
    static final List<String> TRACES = List.of("double-reset-6.1", "double-reset-rw200-6.1", "fatal-6.1",
            "linkfail-fatal-6.1", "linkfail-fatal-rw200-6.1", "malf-6.1", "repeat5-fatal-6.1", "repeat5-fatal-rw200-6.1",
            "sdn-6.1", "surprise-removal-slotoff-6.1", "surprise-removal-slotoff-rw200-6.1", "switch-fatal-6.1",
            "switch-fatal-rw200-6.1", "twofn-all-6.1", "twofn-all-rw200-6.1");

    /** One recovery of the truth file. */
    record Recovery(long entry, long ret, String dev, int state, boolean recovered, String resetBridge) {}

    /** A config read the kernel side saw overlap the reset: [start, start + lat]. */
    record KernelRead(long start, long lat) {}

    record Truth(int aerEvents, List<Recovery> recoveries, List<KernelRead> reads) {}

    static List<String> lines(Path gz) throws Exception {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(gz)),
                StandardCharsets.UTF_8))) {
            return r.lines().toList();
        }
    }

    static final Pattern REC = Pattern.compile("# \\[BT\\] recovery #\\d+: entry=(\\d+) return=(\\d+) .*state=(\\d) .*result=(\\S+) :: .*dev=(\\S+)");
    static final Pattern AER = Pattern.compile("# \\[BT\\] ras:aer_event x(\\d+)");
    static final Pattern ROOT = Pattern.compile("^(\\d+) BT \\d+ \\S+ aer_root_reset-entry dev=(\\S+)");
    static final Pattern READ = Pattern.compile("OVERLAP kernel vfio read \\[(\\d+)\\.\\.(\\d+)\\].* lat_ns=(\\d+)");

    static Truth truth(String name) throws Exception {
        List<String> L = lines(DIR.resolve(name + ".truth.txt.gz"));
        int aer = -1;
        List<long[]> roots = new ArrayList<>();
        List<String> rootDev = new ArrayList<>();
        List<KernelRead> reads = new ArrayList<>();
        List<String[]> recs = new ArrayList<>();
        for (String l : L) {
            Matcher m;
            if ((m = AER.matcher(l)).find()) aer = Integer.parseInt(m.group(1));
            if ((m = ROOT.matcher(l)).find()) { roots.add(new long[] {Long.parseLong(m.group(1))}); rootDev.add(m.group(2)); }
            if ((m = READ.matcher(l)).find()) reads.add(new KernelRead(Long.parseLong(m.group(1)), Long.parseLong(m.group(3))));
            if ((m = REC.matcher(l)).find()) recs.add(new String[] {m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)});
        }
        List<Recovery> out = new ArrayList<>();
        for (String[] r : recs) {
            long a = Long.parseLong(r[0]), b = Long.parseLong(r[1]);
            String bridge = null;
            for (int i = 0; i < roots.size(); i++) if (roots.get(i)[0] >= a && roots.get(i)[0] <= b) bridge = rootDev.get(i);
            out.add(new Recovery(a, b, r[4], Integer.parseInt(r[2]), r[3].equals("RECOVERED"), bridge));
        }
        assertTrue(aer >= 0, "truth file of " + name + " has no aer_event count");
        return new Truth(aer, out, reads);
    }

    record Run(SourceReport report, List<AnalyzedEpisode> episodes) {}

    static final Map<String, Run> RUNS = new HashMap<>();

    static synchronized Run run(String name) throws Exception {
        Run r = RUNS.get(name);
        if (r != null) return r;
        Path p = DIR.resolve(name + ".jsonl.gz");
        assertTrue(Files.exists(p), "field trace " + p + " is missing (testdata/field/README.md)");
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport rep = new Analyzer().analyze(p.toString(), () -> Files.newInputStream(p), eps::add);
        r = new Run(rep, eps);
        RUNS.put(name, r);
        return r;
    }

    /**
     * Independent of the analyzer: timestamps where a thread's vfio.rw enter/exit sequence breaks in the raw file
     * (an enter after an enter, an exit without an enter or of another register): records were lost there.
     */
    static List<Long> breaks(String name) throws Exception {
        record E(long ts, int tid, boolean enter, long off) {}
        List<E> ev = new ArrayList<>();
        com.fasterxml.jackson.databind.ObjectMapper m = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String l : lines(DIR.resolve(name + ".jsonl.gz"))) {
            if (!l.contains("\"vfio.rw.")) continue;
            var n = m.readTree(l);
            ev.add(new E(n.get("ts").asLong(), n.get("tid").asInt(), n.get("type").asText().endsWith("enter"), n.get("offset").asLong()));
        }
        ev.sort((a, b) -> Long.compare(a.ts(), b.ts()));
        Map<Integer, E> open = new HashMap<>();
        List<Long> out = new ArrayList<>();
        for (E e : ev) {
            E o = open.get(e.tid());
            if (e.enter()) {
                if (o != null) out.add(e.ts());
                open.put(e.tid(), e);
            } else {
                if (o == null || o.off() != e.off()) out.add(e.ts());
                open.remove(e.tid());
            }
        }
        return out;
    }

    static List<Verdict> of(AnalyzedEpisode a, Verdict.Kind k) { return a.verdicts().stream().filter(v -> v.kind() == k).toList(); }

    @TestFactory
    Stream<DynamicTest> episodesDevicesSeverityBridgeAndResultAreTheTruth() {
        return TRACES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Truth t = truth(name);
            Run r = run(name);
            List<AnalyzedEpisode> rec = r.episodes().stream().filter(a -> a.episode().hasRecovery()).toList();
            assertEquals(t.recoveries().size(), rec.size(), "recoveries: " + rec.stream().map(a -> a.episode().id()).toList());
            long aerEpisodes = r.episodes().stream().filter(a -> !a.episode().errors().isEmpty()).count();
            int aerEvents = r.episodes().stream().mapToInt(a -> a.episode().errors().size()).sum();
            // A lost aer.event cannot be invented (twofn-all-6.1 lost its correctable one): then the input has a
            // gap and nothing about "no error" is confident.
            if (r.report().lostEvents() == 0) assertEquals(t.aerEvents(), aerEvents, "AER events in episodes");
            else assertTrue(aerEvents <= t.aerEvents(), "AER events in episodes");
            assertTrue(aerEpisodes <= t.aerEvents(), "one AER event split into two episodes");
            for (int i = 0; i < rec.size(); i++) {
                Episode ep = rec.get(i).episode();
                Recovery tr = t.recoveries().get(i);
                assertEquals(tr.dev(), ep.recoveryDev(), "recovery device");
                assertEquals(tr.dev(), ep.device(), "reporting device");
                assertEquals(tr.state() == 2, ep.fatal(), "severity");
                if (ep.severity() != null) assertEquals(tr.state() == 2 ? 1 : 0, ep.severity());
                assertNotNull(ep.recoveryStart(), "the recovery's enter is in the trace");
                assertTrue(Math.abs(ep.recoveryStart() - tr.entry()) < 1_000_000, "recovery start vs truth");
                assertTrue(Math.abs(ep.recoveryEnd() - tr.ret()) < 1_000_000, "recovery end vs truth");
                if (tr.resetBridge() != null) {
                    assertEquals(tr.resetBridge(), ep.bridge(), "reset bridge");
                    assertTrue(ep.recoveryResets().stream().anyMatch(x -> x.bridge().equals(tr.resetBridge())));
                } else assertTrue(ep.recoveryResets().isEmpty(), "no reset in the truth");
                boolean failed = !of(rec.get(i), Verdict.Kind.RECOVERY_FAILED).isEmpty();
                assertEquals(!tr.recovered(), failed, "recovery result");
            }
            // No phantom: every episode has an AER event, a recovery or a device-loss sign.
            for (AnalyzedEpisode a : r.episodes()) {
                Episode ep = a.episode();
                boolean loss = !of(a, Verdict.Kind.ALL_ONES_READ).isEmpty() || !of(a, Verdict.Kind.DEVICE_REMOVED).isEmpty();
                assertTrue(!ep.errors().isEmpty() || ep.hasRecovery() || loss, "phantom episode #" + ep.id() + " " + a.verdicts());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> noConfidentVerdictWhereTheTraceShowsALoss() {
        return TRACES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Run r = run(name);
            List<Long> br = breaks(name);
            for (AnalyzedEpisode a : r.episodes()) {
                for (Verdict v : a.verdicts()) {
                    if (v.kind() == Verdict.Kind.INCONCLUSIVE) { // the episode's list of gaps, itself no claim
                        assertFalse(v.gaps().isEmpty(), v.sentence());
                        continue;
                    }
                    assertEquals(!v.gaps().isEmpty(), v.tentative(), v.toString());
                    if (v.tentative()) {
                        // A hedged sentence states no count, hold time or action time.
                        assertFalse(v.sentence().matches("(?s).*(\\d+ user access|held \\d|acted at [+-]).*"), v.sentence());
                        continue;
                    }
                    for (long b : br)
                        assertFalse(b >= v.from() && b <= v.to(), "confident " + v.kind().id + " in " + name
                                + " although the trace breaks at " + b + ": " + v.sentence());
                }
                if (r.report().lostEvents() > 0 && a.outcome() == Outcome.RACE)
                    assertTrue(a.verdicts().stream().anyMatch(v -> !v.tentative() && v.kind().category == Verdict.Category.RACE));
                for (Access x : a.episode().accesses()) {
                    // No invented read: a paired read is one call (same register) and no loss lies inside it.
                    if (x.enter() instanceof Event.RwEnter e && x.exit() instanceof Event.RwExit o) {
                        assertEquals(e.offset(), o.offset(), "enter and exit of different registers paired");
                        assertEquals(e.tid(), o.tid());
                        for (TraceGap g : a.episode().holes())
                            if (g.kind() == TraceGap.Kind.LOSS || g.kind() == TraceGap.Kind.LATE)
                                assertFalse(g.from() < x.end() && g.to() > x.start(), "read paired across " + g.describe());
                    }
                }
                for (Verdict v : a.verdicts())
                    assertFalse(v.sentence().contains("still blocked when the trace ended"),
                            "every read of the field traces returned (truth): " + v.sentence());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> heldReadsAreTheKernelsWithinOneMs() {
        return TRACES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Truth t = truth(name);
            for (AnalyzedEpisode a : run(name).episodes()) {
                for (Verdict v : of(a, Verdict.Kind.ACCESS_STALLED_BY_RESET)) {
                    if (v.tentative()) continue;
                    Access x = a.episode().accesses().stream().filter(y -> y.enter() != null && v.evidence().contains(y.enter())
                            && y.exit() != null && y.kind() == Access.Kind.CONFIG_READ).findFirst().orElseThrow();
                    long held = x.end() - x.start();
                    KernelRead k = t.reads().stream().min((p, q) -> Long.compare(Math.abs(p.start() - x.start()),
                            Math.abs(q.start() - x.start()))).orElseThrow(() -> new AssertionError("no kernel-side read in " + name));
                    assertTrue(Math.abs(k.start() - x.start()) < 1_000_000, "no kernel read near " + x);
                    // The agent's exit record can trail bpftrace's return probe of the same call (same register,
                    // same value) on these TCG boots: repeat5-fatal-rw200-6.1, the COMMAND read entered at
                    // 129.910357690 s returned at 130.033479 s for bpftrace and 130.038848 s for the agent (5.4 ms;
                    // another read 2.0 ms), linkfail-fatal-rw200-6.1 1.3 ms; enters agree within 0.1 ms. That is
                    // the probe's timestamp, not the analyzer's pairing (the analyzer states what the trace
                    // shows). Held times are checked to 6 ms, and to 1 ms wherever the agent's exit is within
                    // 0.9 ms of bpftrace's return.
                    long endDiff = Math.abs((k.start() + k.lat()) - x.end());
                    assertTrue(Math.abs(k.lat() - held) < 6_000_000, name + ": held " + held + " ns, kernel " + k.lat() + " ns");
                    if (endDiff < 900_000) assertTrue(Math.abs(k.lat() - held) < 1_000_000, name + ": held " + held + " ns, kernel " + k.lat() + " ns");
                }
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> resetsRefusedAreNoticesAndTheRealSecondResetIsADoubleReset() {
        return Stream.of("double-reset-6.1", "double-reset-rw200-6.1").map(name -> DynamicTest.dynamicTest(name, () -> {
            AnalyzedEpisode a = run(name).episodes().stream().filter(x -> x.episode().hasRecovery()).findFirst().orElseThrow();
            for (Verdict v : of(a, Verdict.Kind.DOUBLE_RESET))
                assertTrue(v.sentence().contains("after the host's recovery") || v.tentative(), v.sentence());
            for (Verdict v : of(a, Verdict.Kind.ACCESS_DURING_RESET))
                if (!v.tentative()) assertFalse(v.sentence().contains("VFIO_DEVICE_RESET"), "a refused reset touched nothing: " + v.sentence());
            if (name.contains("rw200")) { // loss-free: the truth is stated
                assertEquals(4, of(a, Verdict.Kind.USER_RESET_REFUSED).size(), a.verdicts().toString());
                for (Verdict v : of(a, Verdict.Kind.USER_RESET_REFUSED)) {
                    assertFalse(v.tentative());
                    assertTrue(v.sentence().contains("EAGAIN"), v.sentence());
                }
                List<Verdict> d = of(a, Verdict.Kind.DOUBLE_RESET);
                assertEquals(1, d.size(), a.verdicts().toString());
                assertFalse(d.get(0).tentative());
                assertTrue(d.get(0).sentence().contains("pcie_reset_flr"), d.get(0).sentence());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> bothFunctionsGetTheirPerDeviceVerdicts() {
        return Stream.of("twofn-all-rw200-6.1").map(name -> DynamicTest.dynamicTest(name, () -> {
            AnalyzedEpisode a = run(name).episodes().stream().filter(x -> x.episode().fatal() && x.episode().hasRecovery())
                    .findFirst().orElseThrow();
            for (Verdict.Kind k : List.of(Verdict.Kind.NOTIFIED_BEFORE_RESET, Verdict.Kind.ACCESS_DURING_RESET)) {
                List<String> devs = of(a, k).stream().map(Verdict::dev).sorted().distinct().toList();
                assertEquals(List.of("0000:01:00.0", "0000:01:00.1"), devs, k.id + ": " + a.verdicts());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> theSurpriseRemovalIsADeviceLossEpisode() {
        return Stream.of("surprise-removal-slotoff-6.1").map(name -> DynamicTest.dynamicTest(name, () -> {
            List<AnalyzedEpisode> eps = run(name).episodes();
            assertFalse(eps.isEmpty(), "0 episodes for a device that went away");
            List<Verdict> v = eps.stream().flatMap(a -> of(a, Verdict.Kind.ALL_ONES_READ).stream()).toList();
            assertFalse(v.isEmpty());
            assertTrue(v.stream().allMatch(x -> x.dev().equals("0000:01:00.0")));
            assertTrue(eps.stream().allMatch(a -> a.episode().errors().isEmpty() && !a.episode().hasRecovery()));
        }));
    }
}
