package dev.aertrace;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Hand-written traces for tests, one builder call per line. Timings follow a fatal recovery on the 6.1 lab
 * (root port 0000:00:02.0, vfio-pci endpoint 0000:01:00.0): AER event, recovery ~40 µs later, error_detected
 * on the endpoint (vfio signals the eventfd), aer_root_reset with pci_reset_secondary_bus and the ~100 ms
 * link wait, slot_reset, resume. Times are given in µs from 1 s.
 */
public final class Tr {
    public static final String RP = "0000:00:02.0", EP = "0000:01:00.0";
    public static final int IRQ = 90, USER = 300;

    public final List<String> lines = new ArrayList<>();
    private int events;
    private long lost;

    public static String header(String topology) {
        return "{\"type\":\"header\",\"schema_version\":1,\"agent\":\"hand-written\",\"host\":\"test\","
                + "\"kernel\":\"6.1.0-test\",\"boot_id\":\"00000000-0000-0000-0000-000000000001\",\"mono_ns\":0,"
                + "\"realtime_ns\":1764030000000000000,\"probes\":{\"attached\":[],\"missing\":[]},\"topology\":" + topology + "}";
    }

    public static final String TOPO = "[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
            + "{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]";

    /** A trace with the standard one-port-one-endpoint header. */
    public static Tr lab() {
        return new Tr().raw(header(TOPO));
    }

    /** Appends a line as is (it stays where it is put: use for headers, footers and broken lines). */
    public Tr raw(String line) {
        flushSorted();
        lines.add(line);
        return this;
    }

    /** Event lines wait here and are written in time order, as the agent would (mostly) write them. */
    private final List<long[]> pendingTs = new ArrayList<>();
    private final List<String> pending = new ArrayList<>();

    private void flushSorted() {
        Integer[] idx = new Integer[pending.size()];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> Long.compare(pendingTs.get(a)[0], pendingTs.get(b)[0]));
        for (Integer i : idx) lines.add(pending.get(i));
        pending.clear();
        pendingTs.clear();
    }

    private Tr event(long ts, String line) {
        pending.add(line);
        pendingTs.add(new long[]{ts});
        return this;
    }

    private static long ns(double us) { return 1_000_000_000L + Math.round(us * 1000); }

    /** One event; {@code extra} is the JSON fields after the common ones (without braces), may be "". */
    public Tr ev(String type, double us, int tid, String dev, String extra) {
        String comm = tid == IRQ ? "irq/24-aerdrv" : tid >= USER ? "vfio-user" : "kworker";
        int cpu = tid >= USER ? 1 : 0;
        events++;
        return event(ns(us), "{\"type\":\"" + type + "\",\"ts\":" + ns(us) + ",\"cpu\":" + cpu + ",\"pid\":" + (tid >= USER ? USER : tid)
                + ",\"tid\":" + tid + ",\"comm\":\"" + comm + "\"" + (dev != null ? ",\"dev\":\"" + dev + "\"" : "")
                + (extra.isEmpty() ? "" : "," + extra) + "}");
    }

    public Tr aer(double us, String dev, int severity, long status) {
        return ev("aer.event", us, IRQ, dev, "\"severity\":" + severity + ",\"status\":" + status + ",\"tlp_valid\":false");
    }

    public Tr recoveryEnter(double us, String dev, int state) { return ev("recovery.enter", us, IRQ, dev, "\"state\":" + state); }

    public Tr recoveryExit(double us, String dev, int ret) { return ev("recovery.exit", us, IRQ, dev, "\"ret\":" + ret); }

    public Tr cb(double us, double endUs, String dev, String cb, int result) {
        ev("cb.enter", us, IRQ, dev, "\"cb\":\"" + cb + "\",\"driver\":\"vfio-pci\"" + (cb.equals("error_detected") ? ",\"state\":2" : ""));
        return ev("cb.exit", endUs, IRQ, dev, "\"cb\":\"" + cb + "\",\"result\":" + result);
    }

    public Tr resetEnter(double us, String bridge, String fn) { return ev("reset.enter", us, IRQ, bridge, "\"fn\":\"" + fn + "\""); }

    public Tr resetExit(double us, String bridge, String fn, int ret) {
        return ev("reset.exit", us, IRQ, bridge, "\"fn\":\"" + fn + "\",\"ret\":" + ret);
    }

    public Tr signal(double us, String dev) { return ev("eventfd.signal", us, IRQ, dev, "\"ctx\":\"0xffff888004a1c000\""); }

    public Tr cfgLock(double us, String dev, String op) { return ev("cfg_lock", us, IRQ, dev, "\"op\":\"" + op + "\""); }

    public Tr cfgRead(double us, double endUs, int tid, String dev, int off, int size, long value) {
        String f = "\"region\":\"config\",\"offset\":" + off + ",\"size\":" + size + ",\"write\":false";
        ev("vfio.rw.enter", us, tid, dev, f);
        return ev("vfio.rw.exit", endUs, tid, dev, f + ",\"ret\":" + size + ",\"value\":" + value);
    }

    public Tr cfgWrite(double us, double endUs, int tid, String dev, int off, int size, long value) {
        String f = "\"region\":\"config\",\"offset\":" + off + ",\"size\":" + size + ",\"write\":true";
        ev("vfio.rw.enter", us, tid, dev, f + ",\"value\":" + value);
        return ev("vfio.rw.exit", endUs, tid, dev, f + ",\"ret\":" + size);
    }

    public Tr barRead(double us, double endUs, int tid, String dev, int off) {
        String f = "\"region\":\"bar0\",\"offset\":" + off + ",\"size\":4,\"write\":false";
        ev("vfio.rw.enter", us, tid, dev, f);
        return ev("vfio.rw.exit", endUs, tid, dev, f + ",\"ret\":4");
    }

    public Tr ioctl(double us, double endUs, int tid, String dev, long cmd, String name, int ret) {
        String f = "\"cmd\":" + cmd + ",\"cmd_name\":\"" + name + "\"";
        ev("vfio.ioctl.enter", us, tid, dev, f);
        return ev("vfio.ioctl.exit", endUs, tid, dev, f + ",\"ret\":" + ret);
    }

    /** A schema-v3 one-line access (vfio.rw), written as the agent does: at its return, in the file order of {@code endUs}. */
    public Tr whole(double us, double endUs, int tid, String dev, int off, int size, long value) {
        events++;
        String comm = tid >= USER ? "vfio-user" : "kworker";
        int pid = tid >= USER ? USER : tid;
        return event(ns(endUs), "{\"type\":\"vfio.rw\",\"ts\":" + ns(us) + ",\"cpu\":1,\"pid\":" + pid + ",\"tid\":" + tid
                + ",\"comm\":\"" + comm + "\",\"dev\":\"" + dev + "\",\"region\":\"config\",\"offset\":" + off + ",\"size\":" + size
                + ",\"write\":false,\"value\":" + value + ",\"ret\":" + size + ",\"exit_ts\":" + ns(endUs) + "}");
    }

    public Tr lost(double us, int cpu, long count) {
        events++;
        lost += count;
        return event(ns(us), "{\"type\":\"lost\",\"ts\":" + ns(us) + ",\"cpu\":" + cpu + ",\"pid\":0,\"tid\":0,\"comm\":\"\",\"count\":" + count + "}");
    }

    /** The host side of a successful fatal recovery of EP below RP, starting at {@code t0} µs. */
    public Tr fatalRecovery(double t0) {
        aer(t0, EP, 1, 0x20);
        recoveryEnter(t0 + 40, EP, 2);
        ev("cb.enter", t0 + 60, IRQ, EP, "\"cb\":\"error_detected\",\"driver\":\"vfio-pci\",\"state\":2");
        ev("vfio.err_detected.enter", t0 + 62, IRQ, EP, "\"state\":2");
        signal(t0 + 70, EP);
        ev("vfio.err_detected.exit", t0 + 75, IRQ, EP, "\"ret\":2");
        ev("cb.exit", t0 + 80, IRQ, EP, "\"cb\":\"error_detected\",\"result\":3");
        resetEnter(t0 + 200, RP, "aer_root_reset");
        cfgLock(t0 + 210, EP, "lock");
        resetEnter(t0 + 220, RP, "pci_reset_secondary_bus");
        resetExit(t0 + 2_300, RP, "pci_reset_secondary_bus", 0);
        cfgLock(t0 + 110_000, EP, "unlock");
        resetExit(t0 + 110_100, RP, "aer_root_reset", 5);
        cb(t0 + 110_300, t0 + 110_400, EP, "slot_reset", 5);
        cb(t0 + 110_500, t0 + 110_600, EP, "resume", 5);
        return recoveryExit(t0 + 110_700, EP, 5);
    }

    public Tr footer(double us) {
        return raw("{\"type\":\"footer\",\"ts\":" + ns(us) + ",\"events\":" + events + ",\"lost\":" + lost + ",\"reason\":\"SIGINT\"}");
    }

    public String text() {
        flushSorted();
        StringBuilder sb = new StringBuilder();
        for (String l : lines) sb.append(l).append('\n');
        return sb.toString();
    }

    public byte[] bytes() { return text().getBytes(StandardCharsets.UTF_8); }

    /** Result of analyzing this trace with default options. */
    public record Result(SourceReport report, List<AnalyzedEpisode> episodes) {
        public AnalyzedEpisode only() {
            if (episodes.size() != 1) throw new AssertionError("expected 1 episode, got " + episodes.size());
            return episodes.get(0);
        }
    }

    public Result analyze() { return analyze(bytes()); }

    public static Result analyze(byte[] data) {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport r = new Analyzer().analyze("test", new ByteArrayInputStream(data), eps::add);
        return new Result(r, eps);
    }
}
