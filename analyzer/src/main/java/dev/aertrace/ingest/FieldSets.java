package dev.aertrace.ingest;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The fields each known type carries, as events.schema.json lists them (FieldSetsTest keeps the two equal). A line
 * carrying a field of the schema that its type never has is a damaged line: the fuzzer's retypes showed why. A
 * user read retyped to {@code vfio.remove.enter} kept its region, offset and size, and made a confident
 * "vfio-pci's remove started" out of one read (build fuzz, seed 20261202 mutants 260 and 826). Most retypes change
 * the field set this way; those between types of one shape (vfio.open, vfio.close, pci.remove.enter, ...) cannot
 * be seen on one line. A field name outside the schema is a newer agent's and stays ignored (probes/EVENTS.md); a
 * newer agent adding a field the schema already uses elsewhere to another type bumps the schema version.
 */
final class FieldSets {
    private FieldSets() {}

    private static final List<String> COMMON = List.of("type", "ts", "cpu", "pid", "tid", "comm", "dev");
    private static final List<String> QEMU_ACCESS = List.of("type", "ts", "cpu", "pid", "tid", "comm", "offset", "size", "value", "write");
    private static final List<String> QEMU_STATE = List.of("type", "ts", "cpu", "pid", "tid", "comm", "state", "state_name");

    private static final Map<String, Set<String>> FIELDS = new HashMap<>();

    private static void common(String type, String... more) {
        Set<String> s = new java.util.HashSet<>(COMMON);
        s.addAll(List.of(more));
        FIELDS.put(type, Set.copyOf(s));
    }

    static {
        common("aer.event", "severity", "status", "tlp", "tlp_valid");
        common("cb.enter", "cb", "driver", "state");
        common("cb.exit", "cb", "result");
        common("cfg_lock", "op", "ret");
        common("eventfd.read", "ctx", "entered", "ret");
        common("eventfd.signal", "ctx");
        common("history", "dropped", "records", "since");
        common("hotplug.event", "events", "handler", "reason");
        common("hotplug.unconfigure.enter", "presence");
        common("lost", "count", "since", "until");
        common("pci.hp_event", "event", "slot");
        common("pcie.link_event", "dllla", "flit_mode", "link_status", "max_speed", "port_type", "reason", "speed", "width");
        for (String t : List.of("recovery.enter", "vfio.err_detected.enter")) common(t, "state");
        for (String t : List.of("recovery.exit", "vfio.err_detected.exit")) common(t, "ret");
        for (String t : List.of("reset.enter", "user_reset.enter")) common(t, "fn");
        for (String t : List.of("reset.exit", "user_reset.exit")) common(t, "fn", "ret");
        common("vfio.ioctl.enter", "cmd", "cmd_name");
        common("vfio.ioctl.exit", "cmd", "cmd_name", "ret");
        common("vfio.request", "count");
        common("vfio.rw", "exit_ts", "history", "offset", "region", "ret", "size", "value", "write");
        common("vfio.rw.enter", "history", "offset", "region", "size", "value", "write");
        common("vfio.rw.exit", "history", "offset", "region", "ret", "size", "value", "write");
        for (String t : List.of("hotplug.unconfigure.exit", "pci.remove.enter", "pci.remove.exit", "vfio.close", "vfio.open",
                "vfio.remove.enter", "vfio.remove.exit")) common(t);
        for (String t : List.of("qemu.config.enter", "qemu.config.exit", "qemu.region.enter", "qemu.region.exit"))
            FIELDS.put(t, Set.copyOf(QEMU_ACCESS));
        for (String t : List.of("qemu.runstate", "qemu.vm_stop")) FIELDS.put(t, Set.copyOf(QEMU_STATE));
        FIELDS.put("qemu.system_reset", Set.of("type", "ts", "cpu", "pid", "tid", "comm", "reason", "reason_name"));
    }

    /** The event types whose fields are known (header and footer are checked by their own readers). */
    static Set<String> types() { return FIELDS.keySet(); }

    static Set<String> of(String type) { return FIELDS.get(type); }

    /** The {@link Scratch} field ids {@code type} may carry, as a bit set; every bit for a type without a set. */
    static long mask(String type) {
        Set<String> f = FIELDS.get(type);
        if (f == null) return -1L;
        long m = 0;
        for (String n : f) {
            int id = Scratch.id(n);
            if (id >= 0) m |= 1L << id;
        }
        return m;
    }

    /**
     * The first field of the line that {@code type} never carries, or null: {@code present} are the line's
     * {@link Scratch} ids, {@code unknown} its other names (those outside the schema are a newer agent's: allowed).
     */
    static String foreign(String type, long allowed, long present, List<String> unknown) {
        long extra = present & ~allowed;
        if (extra != 0) return Scratch.NAMES[Long.numberOfTrailingZeros(extra)];
        if (unknown == null || unknown.isEmpty()) return null; // the scanner keeps its list once made: usually empty
        Set<String> f = FIELDS.get(type);
        if (f != null) for (String n : unknown) if (Strict.FIELDS.contains(n) && !f.contains(n)) return n;
        return null;
    }
}
