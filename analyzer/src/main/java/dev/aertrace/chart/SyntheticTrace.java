package dev.aertrace.chart;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Random;

/**
 * Generates schema-v1 traces of repeated fatal-race episodes for the chart benchmark and the compare tests:
 * AER fatal on 0000:01:00.0, pcie_do_recovery, vfio's error_detected (eventfd to the user), the root-port
 * reset (aer_root_reset → pci_reset_secondary_bus) during which the user reads COMMAND and is held, slot_reset
 * and resume. Durations are log-normal around medians shaped like the 6.1 lab traces; {@code resetScale}
 * stretches the reset, which is how tests make "a slower kernel". Not a substitute for lab traces: a tool to
 * produce many episodes of known distribution.
 */
public final class SyntheticTrace {
    private SyntheticTrace() {}

    public static byte[] fatalRace(int episodes, Random r) {
        return fatalRace(episodes, r, "6.1.0-synthetic", 1.0);
    }

    public static byte[] fatalRace(int episodes, Random r, String kernel, double resetScale) {
        StringBuilder sb = new StringBuilder(episodes * 4096);
        sb.append("{\"type\":\"header\",\"schema_version\":1,\"agent\":\"aertrace synthetic\",\"host\":\"synthetic\",")
                .append("\"kernel\":\"").append(kernel).append("\",\"boot_id\":\"00000000-0000-0000-0000-000000000001\",")
                .append("\"mono_ns\":0,\"realtime_ns\":1764030000000000000,\"probes\":{\"attached\":[],\"missing\":[]},")
                .append("\"topology\":[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},")
                .append("{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]}\n");
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
