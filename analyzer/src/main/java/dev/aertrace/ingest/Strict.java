package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The checks that tell a damaged line from a line the schema allows (probes/EVENTS.md, events.schema.json): the
 * header's field types and shapes, access sizes, loss counts, and names one character away from known ones. A
 * check that fails is a named problem on its line and a gap, never a silently accepted value: a header whose
 * topology is an object would otherwise decide which devices a reset covered.
 */
public final class Strict {
    private Strict() {}

    private static final Pattern BDF = Pattern.compile("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$");

    /** Fields events.schema.json requires of an agent's header (one that names its {@code agent}). */
    private static final List<String> REQUIRED = List.of("schema_version", "agent", "host", "kernel", "boot_id",
            "mono_ns", "realtime_ns", "probes", "topology");

    static final Set<String> HEADER_FIELDS = Set.of("type", "schema_version", "agent", "host", "kernel", "boot_id",
            "mono_ns", "realtime_ns", "probes", "filter", "topology", "rw_window_ms", "buffer", "recorder");

    /**
     * What is wrong with a header, one phrase each (empty: nothing). An agent's header (it has {@code agent}) must
     * carry every field the schema requires; a minimal header (only {@code schema_version}, as hand-written traces
     * have) is accepted with an unknown topology. Present fields must have the schema's types either way, and a
     * present topology must be a non-empty list of devices: the agent lists every PCI device it saw, so an empty
     * list can only be damage, and with it the analyzer could not tell which devices a reset covered.
     */
    public static List<String> header(JsonNode n) {
        List<String> bad = new ArrayList<>();
        for (java.util.Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!HEADER_FIELDS.contains(f) && nearMiss(f, HEADER_FIELDS)) bad.add("field \"" + f + "\" is a damaged name");
        }
        if (n.has("agent")) for (String f : REQUIRED) if (!n.has(f)) bad.add("no \"" + f + "\"");
        // Every header, the agent's or a hand-written minimal one, says its schema: one without is an event line
        // whose type was damaged into "header" (fuzz seed evidence-header-retyped), and its segment is not a trace.
        else if (!n.has("schema_version")) bad.add("no \"schema_version\"");
        JsonNode v = n.get("schema_version");
        if (v != null && !v.isIntegralNumber()) bad.add("schema_version is " + kind(v) + ", not an integer");
        for (String f : List.of("mono_ns", "realtime_ns")) {
            JsonNode x = n.get(f);
            if (x != null && !(x.isIntegralNumber() && x.canConvertToLong())) bad.add(f + " is " + kind(x) + ", not a 64-bit integer");
        }
        for (String f : List.of("agent", "host", "kernel", "boot_id")) {
            JsonNode x = n.get(f);
            if (x != null && !x.isTextual() && !x.isNull()) bad.add(f + " is " + kind(x) + ", not a string");
        }
        JsonNode probes = n.get("probes");
        if (probes != null) {
            if (!probes.isObject()) bad.add("probes is " + kind(probes) + ", not an object");
            else for (String f : List.of("attached", "missing")) {
                JsonNode a = probes.get(f);
                if (a == null) continue;
                if (!a.isArray()) bad.add("probes." + f + " is " + kind(a) + ", not a list");
                else for (JsonNode p : a)
                    if (!p.isObject() || !p.path("event").isTextual()) {
                        bad.add("probes." + f + " has an entry without a string \"event\"");
                        break;
                    }
            }
        }
        JsonNode filter = n.get("filter");
        if (filter != null && !filter.isNull()) {
            JsonNode d = filter.get("devices");
            if (!filter.isObject() || (d != null && !d.isArray())) bad.add("filter is not an object with a list of devices");
            else if (d != null) for (JsonNode x : d) if (!x.isTextual()) {
                bad.add("filter.devices has " + kind(x));
                break;
            }
        }
        JsonNode topo = n.get("topology");
        if (topo != null) {
            if (!topo.isArray()) bad.add("topology is " + kind(topo) + ", not a list of devices");
            else if (topo.isEmpty()) bad.add("topology is an empty list: which devices a reset covers is unknown");
            else {
                int i = 0;
                for (JsonNode d : topo) {
                    String why = device(d);
                    if (why != null) {
                        bad.add("topology[" + i + "] " + why);
                        break; // one is enough to distrust the tree
                    }
                    i++;
                }
            }
        }
        return bad;
    }

    private static String device(JsonNode d) {
        if (!d.isObject()) return "is " + kind(d) + ", not a device object";
        JsonNode dev = d.get("dev");
        if (dev == null || !dev.isTextual() || !BDF.matcher(dev.asText()).matches()) return "has no valid \"dev\"";
        JsonNode parent = d.get("parent");
        if (parent == null || !(parent.isNull() || (parent.isTextual() && BDF.matcher(parent.asText()).matches())))
            return "(" + dev.asText() + ") has no valid \"parent\" (a device name or null)";
        if (!d.path("bridge").isBoolean()) return "(" + dev.asText() + ") has no boolean \"bridge\"";
        for (String f : List.of("aer")) if (d.has(f) && !d.get(f).isBoolean()) return "(" + dev.asText() + ") " + f + " is not a boolean";
        for (String f : List.of("iommu_group", "aer_cap"))
            if (d.has(f) && !d.get(f).isNull() && !d.get(f).canConvertToInt()) return "(" + dev.asText() + ") " + f + " is not an integer";
        for (String f : List.of("vendor", "device", "class", "driver"))
            if (d.has(f) && !d.get(f).isNull() && !d.get(f).isTextual()) return "(" + dev.asText() + ") " + f + " is not a string";
        return null;
    }

    private static String kind(JsonNode v) {
        if (v.isTextual()) return "a string";
        if (v.isObject()) return "an object";
        if (v.isArray()) return "a list";
        if (v.isBoolean()) return "a boolean";
        if (v.isNull()) return "null";
        if (v.isNumber()) return "a non-integer number";
        return v.getNodeType().toString().toLowerCase();
    }

    /** The kernel's largest read/write (MAX_RW_COUNT = INT_MAX rounded down to a page). */
    static final long MAX_RW = 0x7ffff000L;
    /** PCIe config space is 4 KiB; QEMU reads it whole (testdata/lab/6.1/qemu-fatal.jsonl.gz). */
    static final long MAX_CONFIG = 4096;

    /** Null when a vfio access of {@code size} bytes in {@code region} is possible, else why not. */
    static String size(String region, long size) {
        long max = "config".equals(region) ? MAX_CONFIG : MAX_RW;
        if (size >= 1 && size <= max) return null;
        return region + " access of " + size + " bytes (possible: 1 to " + max + ")";
    }

    /** a + b for non-negative counts, stuck at Long.MAX_VALUE instead of wrapping negative. */
    public static long add(long a, long b) {
        long r = a + b;
        return ((a ^ r) & (b ^ r)) < 0 ? (a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE) : r;
    }

    /** True when {@code name} is one edit (substitution, insertion, deletion, swap) away from a name in {@code known}. */
    static boolean nearMiss(String name, Iterable<String> known) {
        for (String k : known) if (oneEdit(name, k)) return true;
        return false;
    }

    private static boolean oneEdit(String a, String b) {
        int la = a.length(), lb = b.length();
        if (Math.abs(la - lb) > 1 || a.equals(b)) return false;
        int i = 0;
        while (i < Math.min(la, lb) && a.charAt(i) == b.charAt(i)) i++;
        if (la == lb) {
            if (a.substring(i + 1).equals(b.substring(i + 1))) return true;
            return i + 1 < la && a.charAt(i) == b.charAt(i + 1) && a.charAt(i + 1) == b.charAt(i)
                    && a.substring(i + 2).equals(b.substring(i + 2));
        }
        return la > lb ? a.substring(i + 1).equals(b.substring(i)) : a.substring(i).equals(b.substring(i + 1));
    }

    /** Every type events.schema.json names (a near miss of one is damage, not a newer agent's type). */
    static final Set<String> TYPES = Set.of("aer.event", "cb.enter", "cb.exit", "cfg_lock", "eventfd.read", "eventfd.signal", "footer",
            "header", "history", "hotplug.event", "hotplug.unconfigure.enter", "hotplug.unconfigure.exit", "lost",
            "pci.hp_event", "pci.remove.enter", "pci.remove.exit", "pcie.link_event", "recovery.enter", "recovery.exit",
            "reset.enter", "reset.exit", "user_reset.enter", "user_reset.exit", "vfio.close", "vfio.err_detected.enter",
            "vfio.err_detected.exit", "vfio.ioctl.enter", "vfio.ioctl.exit", "vfio.open", "vfio.remove.enter",
            "vfio.remove.exit", "vfio.request", "vfio.rw", "vfio.rw.enter", "vfio.rw.exit");

    /** Every field name events.schema.json uses. */
    static final Set<String> FIELDS = Set.of("accesses", "aer", "aer_cap", "agent", "attached", "boot_id", "bridge",
            "buffer", "candidates", "cb", "class", "cmd", "cmd_name", "comm", "command_changes", "count", "cpu", "ctx",
            "dev", "device", "devices", "dllla", "driver", "dropped", "entered", "event", "events", "exit_ts", "filter", "flit_mode", "fn",
            "handler", "history", "history_dropped", "history_written", "host", "iommu_group", "kernel", "kind",
            "link_status", "lost", "max_speed", "missing", "mono_ns", "offset", "op", "parent", "pid", "port_type",
            "presence", "probes", "realtime_ns", "reason", "reason_name", "recorder", "records", "region", "result",
            "ret", "rw_not_traced", "rw_window_ms", "schema_version", "severity", "since", "size", "slot", "speed",
            "state", "state_name", "status", "status_changes", "symbol", "tail_ms", "tid", "tlp", "tlp_valid",
            "topology", "ts", "type", "undecodable", "until", "value", "vendor", "width", "write");

    /** An unknown name that is a known one with one character changed: a damaged line. */
    /** A near miss of a known type, or no type name at all ("", "1", "A B"): a newer agent's type is a dotted lowercase name. */
    static boolean damagedType(String type) {
        return !TYPES.contains(type) && (!TYPE_NAME.matcher(type).matches() || nearMiss(type, TYPES));
    }

    private static final java.util.regex.Pattern TYPE_NAME = java.util.regex.Pattern.compile("[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*");

    static boolean damagedField(String field) { return !FIELDS.contains(field) && nearMiss(field, FIELDS); }

    /** The agent's names of the VFIO ioctls (agent/aertrace_agent/encode.py IOCTL_NAMES; include/uapi/linux/vfio.h). */
    private static final java.util.Map<Long, String> IOCTL_NAMES = java.util.Map.ofEntries(
            java.util.Map.entry(0x3b64L, "VFIO_GET_API_VERSION"), java.util.Map.entry(0x3b65L, "VFIO_CHECK_EXTENSION"),
            java.util.Map.entry(0x3b66L, "VFIO_SET_IOMMU"), java.util.Map.entry(0x3b6bL, "VFIO_DEVICE_GET_INFO"),
            java.util.Map.entry(0x3b6cL, "VFIO_DEVICE_GET_REGION_INFO"), java.util.Map.entry(0x3b6dL, "VFIO_DEVICE_GET_IRQ_INFO"),
            java.util.Map.entry(0x3b6eL, "VFIO_DEVICE_SET_IRQS"), java.util.Map.entry(0x3b6fL, "VFIO_DEVICE_RESET"),
            java.util.Map.entry(0x3b70L, "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO"), java.util.Map.entry(0x3b71L, "VFIO_DEVICE_PCI_HOT_RESET"),
            java.util.Map.entry(0x3b72L, "VFIO_DEVICE_QUERY_GFX_PLANE"), java.util.Map.entry(0x3b73L, "VFIO_DEVICE_GET_GFX_DMABUF"),
            java.util.Map.entry(0x3b74L, "VFIO_DEVICE_IOEVENTFD"), java.util.Map.entry(0x3b75L, "VFIO_DEVICE_FEATURE"));

    /**
     * Why an ioctl line's {@code cmd_name} is not the one the agent writes for {@code cmd}, or null. The agent
     * derives the name from the number (a known VFIO name, else "0x" and the hex), so a name missing, or not the
     * number's, is a damaged line: the name decides whether the ioctl was a user reset. A newer agent may name
     * more ioctls: a VFIO_ name for a number this table does not know is accepted.
     */
    static String ioctlName(long cmd, String name) {
        if (name == null) return "missing \"cmd_name\"";
        String known = IOCTL_NAMES.get(cmd);
        if (known != null ? !known.equals(name) : !(name.equals("0x" + Long.toHexString(cmd))
                || (name.startsWith("VFIO_") && !IOCTL_NAMES.containsValue(name))))
            return "cmd_name \"" + name + "\" is not the name of cmd 0x" + Long.toHexString(cmd);
        return null;
    }
}
