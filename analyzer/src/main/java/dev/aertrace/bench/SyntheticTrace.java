package dev.aertrace.bench;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * The one synthetic-trace writer: {@link #generate} streams a volume trace for {@code bench}, {@link #fatalRace}
 * builds many fatal-race episodes of known distribution for {@code chart-bench} and the compare tests.
 *
 * <p>Volume: writes a synthetic schema-v1 trace of exactly {@code events} event lines: a vfio user doing steady BAR and
 * config traffic on 0000:01:00.0 (enter/exit pairs, with cross-CPU jitter for the reorder window), and every
 * ~100k events a fatal AER recovery whose reset the user's config reads run into. Shapes follow the real
 * 6.1 lab traces; the point is volume, so timings are compressed (10 µs between user accesses).
 */
public final class SyntheticTrace {
    private SyntheticTrace() {}

    private static final String HEADER = header("aertrace bench generator", "bench", "6.1.0-bench",
            "00000000-0000-0000-0000-0000000b3nc4");

    /** The one header both shapes write: two-device topology, a root port above a vfio-pci endpoint. */
    private static String header(String agent, String host, String kernel, String bootId) {
        return "{\"type\":\"header\",\"schema_version\":1,\"agent\":\"" + agent + "\","
                + "\"host\":\"" + host + "\",\"kernel\":\"" + kernel + "\",\"boot_id\":\"" + bootId + "\","
                + "\"mono_ns\":0,\"realtime_ns\":1764030000000000000,\"probes\":{\"attached\":[],\"missing\":[]},"
                + "\"topology\":[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]}\n";
    }

    public static long generate(Path file, long events) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            out.write(HEADER.getBytes(StandardCharsets.US_ASCII));
            W w = new W(out);
            long ts = 1_000_000_000L;
            long n = 0;
            long cycle = 0;
            while (n < events) {
                cycle++;
                if (cycle % 50_000 == 0 && events - n > 40) {
                    n += recovery(w, ts);
                    ts += 5_000_000_000L; // past settle (2 s) + reorder window (1 s): the episode closes, memory is released
                    continue;
                }
                // One user access: a BAR0 read or a COMMAND read, enter + exit, on a tid that alternates CPUs.
                boolean config = cycle % 4 == 0;
                int cpu = (int) (cycle % 2);
                long jitter = cpu == 1 ? 30_000 : 0; // CPU 1 lines arrive 30 µs "late": exercises the reorder window
                String common = ",\"cpu\":" + cpu + ",\"pid\":300,\"tid\":" + (300 + cpu) + ",\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\"";
                if (config) {
                    w.line("{\"type\":\"vfio.rw.enter\",\"ts\":" + (ts - jitter) + common + ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false}");
                    w.line("{\"type\":\"vfio.rw.exit\",\"ts\":" + (ts - jitter + 2_000) + common + ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"ret\":2,\"value\":1030}");
                } else {
                    w.line("{\"type\":\"vfio.rw.enter\",\"ts\":" + (ts - jitter) + common + ",\"region\":\"bar0\",\"offset\":" + (cycle % 64) * 4 + ",\"size\":4,\"write\":false}");
                    w.line("{\"type\":\"vfio.rw.exit\",\"ts\":" + (ts - jitter + 1_500) + common + ",\"region\":\"bar0\",\"offset\":" + (cycle % 64) * 4 + ",\"size\":4,\"write\":false,\"ret\":4}");
                }
                n += 2;
                ts += 10_000;
            }
            w.line("{\"type\":\"footer\",\"ts\":" + ts + ",\"events\":" + n + ",\"lost\":0,\"reason\":\"bench\"}");
            return n;
        }
    }

    /** A 6.1-shaped fatal recovery with a config read stalled by the reset; returns the event count. */
    private static int recovery(W w, long t) throws IOException {
        String k = ",\"cpu\":0,\"pid\":90,\"tid\":90,\"comm\":\"irq/24-aerdrv\"";
        String rp = k + ",\"dev\":\"0000:00:02.0\"";
        String ep = k + ",\"dev\":\"0000:01:00.0\"";
        String u = ",\"cpu\":1,\"pid\":300,\"tid\":301,\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\"";
        w.line("{\"type\":\"aer.event\",\"ts\":" + t + ep + ",\"severity\":1,\"status\":32,\"tlp_valid\":false}");
        w.line("{\"type\":\"recovery.enter\",\"ts\":" + (t + 40_000) + ep + ",\"state\":2}");
        w.line("{\"type\":\"cb.enter\",\"ts\":" + (t + 60_000) + ep + ",\"cb\":\"error_detected\",\"driver\":\"vfio-pci\",\"state\":2}");
        w.line("{\"type\":\"vfio.err_detected.enter\",\"ts\":" + (t + 62_000) + ep + ",\"state\":2}");
        w.line("{\"type\":\"eventfd.signal\",\"ts\":" + (t + 70_000) + ep + ",\"ctx\":\"0xffff888004a1c000\"}");
        w.line("{\"type\":\"vfio.err_detected.exit\",\"ts\":" + (t + 75_000) + ep + ",\"ret\":2}");
        w.line("{\"type\":\"cb.exit\",\"ts\":" + (t + 80_000) + ep + ",\"cb\":\"error_detected\",\"result\":3}");
        w.line("{\"type\":\"reset.enter\",\"ts\":" + (t + 100_000) + rp + ",\"fn\":\"aer_root_reset\"}");
        w.line("{\"type\":\"cfg_lock\",\"ts\":" + (t + 110_000) + ep + ",\"op\":\"lock\"}");
        w.line("{\"type\":\"reset.enter\",\"ts\":" + (t + 120_000) + rp + ",\"fn\":\"pci_reset_secondary_bus\"}");
        w.line("{\"type\":\"vfio.rw.enter\",\"ts\":" + (t + 300_000) + u + ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false}");
        w.line("{\"type\":\"reset.exit\",\"ts\":" + (t + 2_400_000) + rp + ",\"fn\":\"pci_reset_secondary_bus\"}");
        w.line("{\"type\":\"cfg_lock\",\"ts\":" + (t + 2_500_000) + ep + ",\"op\":\"unlock\"}");
        w.line("{\"type\":\"reset.exit\",\"ts\":" + (t + 2_600_000) + rp + ",\"fn\":\"aer_root_reset\",\"ret\":5}");
        w.line("{\"type\":\"vfio.rw.exit\",\"ts\":" + (t + 2_650_000) + u + ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"ret\":2,\"value\":0}");
        w.line("{\"type\":\"cb.enter\",\"ts\":" + (t + 3_000_000) + ep + ",\"cb\":\"slot_reset\",\"driver\":\"vfio-pci\"}");
        w.line("{\"type\":\"cb.exit\",\"ts\":" + (t + 3_010_000) + ep + ",\"cb\":\"slot_reset\",\"result\":5}");
        w.line("{\"type\":\"cb.enter\",\"ts\":" + (t + 3_020_000) + ep + ",\"cb\":\"resume\",\"driver\":\"vfio-pci\"}");
        w.line("{\"type\":\"cb.exit\",\"ts\":" + (t + 3_030_000) + ep + ",\"cb\":\"resume\"}");
        w.line("{\"type\":\"recovery.exit\",\"ts\":" + (t + 3_050_000) + ep + ",\"ret\":5}");
        return 20;
    }

    private static final class W {
        final OutputStream out;

        W(OutputStream out) { this.out = out; }

        void line(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.US_ASCII));
            out.write('\n');
        }
    }

    /*
     * The episode shape: schema-v1 traces of repeated fatal-race episodes for the chart benchmark and the compare tests:
     * AER fatal on 0000:01:00.0, pcie_do_recovery, vfio's error_detected (eventfd to the user), the root-port
     * reset (aer_root_reset → pci_reset_secondary_bus) during which the user reads COMMAND and is held, slot_reset
     * and resume. Durations are log-normal around medians shaped like the 6.1 lab traces; {@code resetScale}
     * stretches the reset, which is how tests make "a slower kernel". Not a substitute for lab traces: a tool to
     * produce many episodes of known distribution.
     */
    public static byte[] fatalRace(int episodes, Random r) {
        return fatalRace(episodes, r, "6.1.0-synthetic", 1.0);
    }

    public static byte[] fatalRace(int episodes, Random r, String kernel, double resetScale) {
        StringBuilder sb = new StringBuilder(episodes * 4096);
        sb.append(header("aertrace synthetic", "synthetic", kernel, "00000000-0000-0000-0000-000000000001"));
        long t = 5_000_000_000L;
        long n = 0;
        for (int i = 0; i < episodes; i++) {
            String k = ",\"cpu\":0,\"pid\":90,\"tid\":90,\"comm\":\"irq/24-aerdrv\"";
            String rp = k + ",\"dev\":\"0000:00:02.0\"";
            String ep = k + ",\"dev\":\"0000:01:00.0\"";
            String u = ",\"cpu\":1,\"pid\":300,\"tid\":300,\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\"";
            long rec = t + ln(r, 400_000);
            long edIn = rec + ln(r, 30_000), edOut = edIn + ln(r, 60_000);
            long resetIn = edOut + ln(r, 50_000);
            long inner = resetIn + ln(r, 20_000);
            long resetLen = (long) (ln(r, 110_000_000) * resetScale);
            long innerOut = inner + resetLen;
            long resetOut = innerOut + ln(r, 200_000);
            long read = resetIn + ln(r, 2_000_000);
            long before = edOut + 10_000;
            long srIn = resetOut + ln(r, 40_000), srOut = srIn + ln(r, 300_000);
            long rsIn = srOut + ln(r, 20_000), rsOut = rsIn + ln(r, 50_000);
            long recOut = rsOut + ln(r, 20_000);
            ev(sb, "aer.event", t, ep, ",\"severity\":1,\"status\":32,\"tlp_valid\":false");
            ev(sb, "recovery.enter", rec, ep, ",\"state\":2");
            ev(sb, "cb.enter", edIn, ep, ",\"cb\":\"error_detected\",\"driver\":\"vfio-pci\",\"state\":2");
            ev(sb, "vfio.err_detected.enter", edIn + 1_000, ep, ",\"state\":2");
            ev(sb, "eventfd.signal", edIn + 5_000, ep, ",\"ctx\":\"0xffff888004a1c000\"");
            ev(sb, "vfio.err_detected.exit", edOut - 1_000, ep, ",\"ret\":2");
            ev(sb, "cb.exit", edOut, ep, ",\"cb\":\"error_detected\",\"result\":3");
            ev(sb, "vfio.rw.enter", before, u, ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false");
            ev(sb, "vfio.rw.exit", before + 8_000, u, ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"ret\":2,\"value\":1031");
            ev(sb, "reset.enter", resetIn, rp, ",\"fn\":\"aer_root_reset\"");
            ev(sb, "reset.enter", inner, rp, ",\"fn\":\"pci_reset_secondary_bus\"");
            ev(sb, "vfio.rw.enter", read, u, ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false");
            ev(sb, "reset.exit", innerOut, rp, ",\"fn\":\"pci_reset_secondary_bus\",\"ret\":0");
            ev(sb, "reset.exit", resetOut, rp, ",\"fn\":\"aer_root_reset\",\"ret\":5");
            ev(sb, "vfio.rw.exit", resetOut + 30_000, u, ",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"ret\":2,\"value\":0");
            ev(sb, "cb.enter", srIn, ep, ",\"cb\":\"slot_reset\",\"driver\":\"vfio-pci\"");
            ev(sb, "cb.exit", srOut, ep, ",\"cb\":\"slot_reset\",\"result\":5");
            ev(sb, "cb.enter", rsIn, ep, ",\"cb\":\"resume\",\"driver\":\"vfio-pci\"");
            ev(sb, "cb.exit", rsOut, ep, ",\"cb\":\"resume\"");
            ev(sb, "recovery.exit", recOut, ep, ",\"ret\":5");
            n += 20;
            t = recOut + 5_000_000_000L; // well past any settle window: one episode each
        }
        sb.append(String.format(Locale.ROOT, "{\"type\":\"footer\",\"ts\":%d,\"events\":%d,\"lost\":0,\"reason\":\"synthetic\"}%n", t, n));
        ByteArrayOutputStream out = new ByteArrayOutputStream(sb.length());
        out.writeBytes(sb.toString().getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    public static long lines(byte[] trace) {
        long n = 0;
        for (byte b : trace) if (b == '\n') n++;
        return n;
    }

    /** Log-normal around {@code median} ns (sigma 0.25), at least 1 µs. */
    private static long ln(Random r, long median) {
        return Math.max(1_000, (long) (median * Math.exp(0.25 * r.nextGaussian())));
    }

    private static void ev(StringBuilder sb, String type, long ts, String common, String extra) {
        sb.append("{\"type\":\"").append(type).append("\",\"ts\":").append(ts).append(common).append(extra).append("}\n");
    }
}
