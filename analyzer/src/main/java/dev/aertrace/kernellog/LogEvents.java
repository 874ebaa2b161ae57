package dev.aertrace.kernellog;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceHeader;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A finished {@link LogError} as the analyzer's own input: a header (the devices the messages named, with the reset
 * bridge as the erring device's parent) and the events:
 * <ul>
 * <li>{@code aer.event} at the source message, per device that printed details (status = status & ~mask);</li>
 * <li>{@code recovery.enter} at the same time (pcie_do_recovery prints nothing when it starts);</li>
 * <li>{@code reset.enter}/{@code reset.exit} of {@code aer_root_reset}: the log gives only the end ("link has
 *     been reset (rc)"), so the start is the previous message of the same error: an upper bound of the span;</li>
 * <li>{@code recovery.exit} at the result message, RECOVERED or DISCONNECT.</li>
 * </ul>
 * The events carry the log's line numbers; comm is "kernel-log".
 */
final class LogEvents {
    static final int RECOVERED = 5, DISCONNECT = 4;
    static final String COMM = "kernel-log";

    private LogEvents() {}

    static TraceHeader header(LogError c, KernelLogReader.Stats stats) {
        String bridge = bridge(c);
        Map<String, Topology.PciDevice> devs = new LinkedHashMap<>();
        devs.put(c.port, port(c.port, null));
        if (!bridge.equals(c.port)) devs.put(bridge, port(bridge, c.port));
        for (String d : allDevices(c)) {
            if (devs.containsKey(d)) continue;
            devs.put(d, endpoint(d, bridge));
        }
        return header(devs, stats, c.line);
    }

    static TraceHeader header(Map<String, Topology.PciDevice> devs, KernelLogReader.Stats stats, long line) {
        return new TraceHeader(1, COMM, stats.host, stats.kernel, stats.bootId, 0, 0, List.of(), List.of(),
                List.of(), new Topology(devs.values()), line);
    }

    static Topology.PciDevice port(String dev, String parent) {
        return new Topology.PciDevice(dev, null, null, null, "pcieport", parent, true, null, true, null);
    }

    static Topology.PciDevice endpoint(String dev, String parent) {
        return new Topology.PciDevice(dev, null, null, null, null, parent, false, null, true, null);
    }

    static String bridge(LogError c) {
        return c.resetBridge != null ? c.resetBridge : c.resultDev != null ? c.resultDev : c.port;
    }

    static int tid(String port) { return 1 + (port.hashCode() & 0xffff); }

    static List<Event> events(LogError c) {
        int tid = tid(c.port);
        List<Event> ev = new ArrayList<>();
        Integer sev = c.severity;
        for (LogError.Detail d : c.details.values()) ev.add(aer(c, d.dev, sev, d, tid));
        if (c.details.isEmpty()) ev.add(aer(c, c.source, sev, null, tid));
        if (c.uncorrectable()) {
            ev.add(new Event.RecoveryEnter(common(c.ts, tid, c.source, c.line), sev == 1 ? 2 : 1));
            if (c.resetBridge != null) {
                String fn = c.dpc ? "dpc_reset_link" : "aer_root_reset";
                boolean ok = !c.resetFailed && (c.resetRc == null || c.resetRc == 0);
                ev.add(new Event.ResetEnter(common(Math.max(c.ts, c.beforeResetTs), tid, c.resetBridge, c.beforeResetLine), fn));
                ev.add(new Event.ResetExit(common(c.resetTs, tid, c.resetBridge, c.resetLine), fn, (long) (ok ? RECOVERED : DISCONNECT)));
            }
            if (c.recovered != null)
                ev.add(new Event.RecoveryExit(common(c.resultTs, tid, c.source, c.resultLine), c.recovered ? RECOVERED : DISCONNECT));
        }
        return ev;
    }

    private static List<String> allDevices(LogError c) {
        List<String> out = new ArrayList<>();
        if (c.source != null) out.add(c.source);
        for (String d : c.details.keySet()) if (!out.contains(d)) out.add(d);
        return out;
    }

    private static Event.AerError aer(LogError c, String dev, Integer sev, LogError.Detail d, int tid) {
        long status = d != null && d.status != null ? d.status & ~(d.mask == null ? 0 : d.mask) & 0xffffffffL : 0;
        long[] tlp = d == null ? null : d.tlp;
        int s = d != null && d.severity != null ? d.severity : sev == null ? 1 : sev;
        return new Event.AerError(common(c.ts, tid, dev, d != null ? d.line : c.line), s, status, tlp != null, tlp);
    }

    static Event.Common common(long ts, int tid, String dev, long line) {
        return new Event.Common(ts, 0, 0, tid, COMM, dev, line);
    }
}
