package dev.aertrace.ingest;

import java.util.List;

/** Line 1 of a trace. {@code line} is where it was read (normally 1). */
public record TraceHeader(int schemaVersion, String agent, String host, String kernel, String bootId,
                          long monoNs, long realtimeNs, List<Probe> attached, List<Probe> missing,
                          List<String> filterDevices, Topology topology, long line) {

    /** One probe the agent attached or could not attach. */
    public record Probe(String event, String kind, String symbol, List<String> candidates, String reason) {}

    /** Wall-clock ns for a monotonic ts, per EVENTS.md. */
    public long realtime(long ts) { return ts - monoNs + realtimeNs; }

    /** True when the agent reported the logical event (e.g. "reset.dpc", "vfio.rw") as missing. */
    public boolean probeMissing(String eventPrefix) {
        for (Probe p : missing) if (p.event() != null && p.event().startsWith(eventPrefix)) return true;
        return false;
    }
}
