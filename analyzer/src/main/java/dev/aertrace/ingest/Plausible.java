package dev.aertrace.ingest;

import static dev.aertrace.ingest.Scratch.F_CMD;
import static dev.aertrace.ingest.Scratch.F_CPU;
import static dev.aertrace.ingest.Scratch.F_OFFSET;
import static dev.aertrace.ingest.Scratch.F_PID;
import static dev.aertrace.ingest.Scratch.F_RESULT;
import static dev.aertrace.ingest.Scratch.F_RET;
import static dev.aertrace.ingest.Scratch.F_SEVERITY;
import static dev.aertrace.ingest.Scratch.F_STATE;
import static dev.aertrace.ingest.Scratch.F_SINCE;
import static dev.aertrace.ingest.Scratch.F_STATUS;
import static dev.aertrace.ingest.Scratch.F_UNTIL;
import static dev.aertrace.ingest.Scratch.F_TID;
import static dev.aertrace.ingest.Scratch.F_TS;
import static dev.aertrace.ingest.Scratch.F_VALUE;
import static dev.aertrace.ingest.Scratch.F_WIDTH;

/**
 * Values no kernel or agent writes (probes/EVENTS.md, the kernel's own ranges), told apart from damage that looks
 * like data: a line carrying one is a named problem and a gap at its line, never an event placed at a time or on
 * a thread it did not have. A {@code tid} of -2^63 read as 0, or a {@code ts} of 2^63-1, would otherwise move a
 * confident verdict (the fuzzer found both). What these checks cannot see (a value changed to another the
 * schema allows) is listed in README "Reliability" and left out of the fuzzer's evidence property.
 */
final class Plausible {
    private Plausible() {}

    /** CLOCK_MONOTONIC past 2^62 ns is 146 years of uptime. */
    static final long MAX_TS = 1L << 62;
    /** PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h): no pid or tid is larger. */
    static final long MAX_PID = 4L << 20;
    /** NR_CPUS's largest setting (x86 MAXSMP). */
    static final long MAX_CPU = 8192;
    /**
     * An event more than this much before the agent's start (the header's mono_ns) is not one the agent saw
     * (its probes attach after it reads the clock; flight-recorder history is read apart from this).
     */
    static final long BEFORE_START_NS = 10_000_000_000L;

    /**
     * Why the parsed line {@code s} of {@code type} cannot be real, or null. {@code rule}: the type's
     * ({@link LineRules}); {@code startNs}: header mono_ns (0: none).
     */
    static String check(String type, LineRules.Rule rule, Scratch s, long startNs) {
        int has = s.has;
        if ((has & F_TS) != 0) {
            if (s.ts <= 0) return "ts " + s.ts + " (CLOCK_MONOTONIC is positive)";
            if (s.ts > MAX_TS) return "ts " + s.ts + " (past 2^62 ns, 146 years of uptime)";
            if (startNs > BEFORE_START_NS && s.ts < startNs - BEFORE_START_NS && !type.equals("lost"))
                return "ts " + s.ts + " is " + (startNs - s.ts) / 1_000_000_000L + " s before the agent started (header mono_ns " + startNs + ")";
        }
        if ((has & F_CPU) != 0 && (s.cpu < 0 || s.cpu >= MAX_CPU)) return "cpu " + s.cpu;
        if ((has & F_PID) != 0 && (s.pid < 0 || s.pid > MAX_PID)) return "pid " + s.pid + " (0.." + MAX_PID + ")";
        if ((has & F_TID) != 0 && (s.tid < 0 || s.tid > MAX_PID)) return "tid " + s.tid + " (0.." + MAX_PID + ")";
        if ((has & (F_PID | F_TID)) == (F_PID | F_TID)) {
            if ((s.pid == 0) != (s.tid == 0)) return "pid " + s.pid + " with tid " + s.tid + " (only the idle task has 0, as both)";
            if (s.tid == 0 && !rule.idle()) return "tid 0 on " + type + " (its probe runs in a task's context, never the idle task's)";
        }
        if (s.comm != null && s.comm.isEmpty() && !rule.idle()) return "empty comm on " + type + " (a task always has a name)";
        if (s.dev != null && s.dev != s.pciName) { // the cached instance of the last name that passed: a trace names few devices
            if (!pciName(s.dev)) return "dev \"" + s.dev + "\" (not a PCI name DDDD:BB:DD.F)";
            s.pciName = s.dev;
        }
        return values(rule, s, has);
    }

    /**
     * pci_name(): "%04x:%02x:%02x.%d" (a domain may be wider than 4 digits; device 0..31, function 0..7), i.e. the
     * regex [0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7] by hand: the regex was a tenth of ingest's CPU
     * (PlausibleTest holds the two equal).
     */
    static boolean pciName(String d) {
        int n = d.length(), dom = n - 8;
        if (dom < 4 || dom > 8) return false;
        for (int i = 0; i < dom; i++) if (!hex(d.charAt(i))) return false;
        return d.charAt(dom) == ':' && hex(d.charAt(dom + 1)) && hex(d.charAt(dom + 2)) && d.charAt(dom + 3) == ':'
                && (d.charAt(dom + 4) == '0' || d.charAt(dom + 4) == '1') && hex(d.charAt(dom + 5)) && d.charAt(dom + 6) == '.'
                && d.charAt(dom + 7) >= '0' && d.charAt(dom + 7) <= '7';
    }

    private static boolean hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

    private static String values(LineRules.Rule rule, Scratch s, int has) {
        if ((has & F_SEVERITY) != 0 && (s.severity < 0 || s.severity > 2)) return "severity " + s.severity + " (0..2)";
        if ((has & F_STATUS) != 0 && !u32(s.status)) return "status " + s.status + " (a 32-bit register)";
        if (s.tlp != null) for (long x : s.tlp) if (!u32(x)) return "tlp word " + x + " (32-bit)";
        if ((has & F_STATE) != 0) {
            if (rule.channel() ? s.state < 1 || s.state > 3 : s.state < 0 || s.state > 255) return "state " + s.state;
        }
        if ((has & F_RESULT) != 0 && (s.result < 1 || s.result > 6)) return "result " + s.result + " (pci_ers_result 1..6)";
        if ((has & F_RET) != 0) {
            String r = rule.ret().why(s);
            if (r != null) return r;
        }
        if ((has & F_OFFSET) != 0 && (s.offset < 0 || s.offset >= 1L << 40)) return "offset " + s.offset + " (a region is below 2^40)";
        if ((has & F_CMD) != 0 && !u32(s.cmd)) return "cmd " + s.cmd + " (a 32-bit ioctl number)";
        if ((has & F_VALUE) != 0 && s.size >= 1 && s.size <= 4 && (s.value < 0 || s.value >= 1L << (8 * s.size)))
            return "value " + s.value + " of a " + s.size + "-byte access";
        if ((has & F_WIDTH) != 0 && (s.width < 0 || s.width > 32)) return "width " + s.width;
        // a one-line access returns after it entered; a damaged exit_ts would move its end, so stretch or cut its hold
        if ((has & Scratch.F_EXIT_TS) != 0 && (s.exitTs < s.ts || s.exitTs > MAX_TS))
            return "exit_ts " + s.exitTs + " (an access returns after its ts " + s.ts + ")";
        return null;
    }

    /** Why a lost line's since/until cannot be real (each a time; since not after until), or null. */
    static String lossBounds(Scratch s) {
        boolean a = (s.has & F_SINCE) != 0, b = (s.has & F_UNTIL) != 0;
        if (a && (s.since <= 0 || s.since > MAX_TS)) return "since " + s.since;
        if (b && (s.until <= 0 || s.until > MAX_TS)) return "until " + s.until;
        if (a && b && s.since > s.until) return "since " + s.since + " after until " + s.until;
        return null;
    }

    private static boolean u32(long x) { return x >= 0 && x <= 0xffff_ffffL; }
}
