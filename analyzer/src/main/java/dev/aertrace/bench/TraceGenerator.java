package dev.aertrace.bench;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a synthetic schema-v1 trace of exactly {@code events} event lines: a vfio user doing steady BAR and
 * config traffic on 0000:01:00.0 (enter/exit pairs, with cross-CPU jitter for the reorder window), and every
 * ~100k events a fatal AER recovery whose reset the user's config reads run into. Shapes follow the real
 * 6.1 lab traces; the point is volume, so timings are compressed (10 µs between user accesses).
 */
public final class TraceGenerator {
    private TraceGenerator() {}

    private static final String HEADER = "{\"type\":\"header\",\"schema_version\":1,\"agent\":\"aertrace bench generator\","
            + "\"host\":\"bench\",\"kernel\":\"6.1.0-bench\",\"boot_id\":\"00000000-0000-0000-0000-0000000b3nc4\","
            + "\"mono_ns\":0,\"realtime_ns\":1764030000000000000,\"probes\":{\"attached\":[],\"missing\":[]},"
            + "\"topology\":[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
            + "{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]}\n";

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
}
