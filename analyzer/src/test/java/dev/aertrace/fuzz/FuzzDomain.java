package dev.aertrace.fuzz;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one class of mutation the evidence property does not judge: a number changed to another value its field
 * allows (probes/EVENTS.md and the kernel's types), e.g. a refused VFIO_DEVICE_RESET's {@code ret} -16 made 0, a
 * COMMAND read's {@code value} made another 16-bit value, a {@code status} made another 32-bit mask, a {@code cpu}
 * made another CPU. Such a line is a well-formed record of something that could have happened: no reader can tell
 * it from a real one, so a verdict it moves is the trace's, not the analyzer's. Kept deliberately independent of
 * ingest's own checks (dev.aertrace.ingest.Plausible), so a reader that accepts a value outside these domains is
 * still caught. Never excluded: timestamps ({@code ts}, a loss's {@code since}/{@code until}), and pid/tid other
 * than 0 on the types that may fire on the idle task; values beyond a field's domain, wrong JSON types, and every
 * other mutation kind.
 */
final class FuzzDomain {
    private FuzzDomain() {}

    private static final Pattern TYPE = Pattern.compile("\"type\":\"([^\"]*)\"");
    private static final Pattern SIZE = Pattern.compile("\"size\":([0-9]+)[,}]");
    private static final Pattern REGION = Pattern.compile("\"region\":\"([^\"]*)\"");
    private static final Pattern CMD = Pattern.compile("\"cmd_name\":\"([^\"]*)\"");

    /** True when {@code value} (the mutator's literal) is a value {@code field} of {@code line} may really have. */
    static boolean inDomain(String line, String field, String value) {
        long v;
        try {
            v = Long.parseLong(value.equals("-0") ? "0" : value);
        } catch (NumberFormatException notAnInteger) {
            return false; // 1.5, 1e308, beyond 64 bits: not a value of any field
        }
        String type = group(TYPE, line);
        if (type == null) return false;
        long size = size(line);
        return switch (field) {
            case "pid", "tid" -> v == 0 && idle(type);
            case "cpu" -> v >= 0 && v < 8192;
            case "severity" -> v >= 0 && v <= 2;
            case "status", "cmd" -> v >= 0 && v <= 0xffff_ffffL;
            case "state" -> type.startsWith("qemu.") ? v >= 0 && v <= 255 : v >= 1 && v <= 3;
            case "result" -> v >= 1 && v <= 6;
            case "ret" -> ret(type, line, v, size);
            case "offset" -> v >= 0 && v < 1L << 40;
            case "size" -> v >= 1 && v <= ("config".equals(group(REGION, line)) ? 4096 : 1L << 31);
            case "value" -> size >= 1 && size <= 4 ? v >= 0 && v < 1L << (8 * size) : v >= 0;
            case "count" -> v > 0;
            case "width" -> v >= 0 && v <= 32;
            case "reason" -> v >= 0 && v <= 255;
            default -> false; // ts, since, until, footer counts, anything new: judged
        };
    }

    private static boolean ret(String type, String line, long v, long size) {
        return switch (type) {
            case "recovery.exit", "vfio.err_detected.exit" -> v >= 1 && v <= 6;
            case "cfg_lock" -> v == 0 || v == 1;
            // a config access is done whole or fails (vfio_pci_config_rw); a BAR access may be cut at the BAR's end
            case "vfio.rw.exit" -> v >= -4095 && ("config".equals(group(REGION, line)) ? v < 0 || v == size : v <= size);
            case "vfio.ioctl.exit" -> v >= -4095 && v <= (zeroOrErrno(group(CMD, line)) ? 0 : Integer.MAX_VALUE);
            default -> v >= -4095 && v <= Integer.MAX_VALUE;
        };
    }

    private static boolean zeroOrErrno(String cmd) {
        return cmd != null && cmd.startsWith("VFIO_DEVICE_") && !cmd.equals("VFIO_DEVICE_FEATURE");
    }

    private static boolean idle(String type) {
        return switch (type) {
            case "aer.event", "eventfd.signal", "pcie.link_event", "pci.hp_event", "hotplug.event", "lost" -> true;
            default -> false;
        };
    }

    private static long size(String line) {
        String s = group(SIZE, line);
        if (s == null) return -1;
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException beyond64Bits) { // the mutator's extreme numbers: no size a field allows
            return -1;
        }
    }

    private static String group(Pattern p, String line) {
        Matcher m = p.matcher(line);
        return m.find() ? m.group(1) : null;
    }
}
