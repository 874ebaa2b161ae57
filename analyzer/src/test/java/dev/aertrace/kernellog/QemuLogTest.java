package dev.aertrace.kernellog;

import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * QEMU/libvirt logs joined to episodes. The lab's vfio user is lab/vfio-user, not QEMU, so these QEMU logs are
 * hand-written: the notification line is QEMU's hw/vfio/pci.c vfio_err_notifier_handler() error_report format
 * ("%s(%s) Unrecoverable error detected. Please collect any data possible and then kill the guest") behind the
 * "-msg timestamp=on" ISO 8601 UTC stamp libvirt enables, and libvirt's "starting up" line; the episodes they are
 * joined to are real (testdata/lab/kmsg/6.1/fatal-race: the trace and the kernel log of the same boot).
 */
public class QemuLogTest {
    static final Path FR = KernelLogLabTest.LAB.resolve("kmsg/6.1/fatal-race.jsonl.gz");
    @TempDir Path tmp;

    public static String qemuLog(long realtimeNs, String dev) {
        // QEMU's real_time_iso8601(): 2026-12-01T22:44:31.123456Z
        String iso = java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
                .withZone(java.time.ZoneOffset.UTC).format(Instant.ofEpochSecond(0, realtimeNs));
        return "2026-12-01 22:40:01.001+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian),"
                + " qemu version: 7.2.19Debian 1:7.2+dfsg-7+deb12u18, kernel: 6.1.0-57-amd64, hostname: aertrace-lab\n"
                + "LC_ALL=C PATH=/usr/bin HOME=/var/lib/libvirt/qemu/domain-1-vm1 /usr/bin/qemu-system-x86_64 -name guest=vm1,debug-threads=on"
                + " -S -machine pc-q35-7.2,usb=off -device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=pci.5,addr=0x0 -msg timestamp=on\n"
                + "char device redirected to /dev/pts/1 (label charserial0)\n"
                + iso + " qemu-system-x86_64: vfio_err_notifier_handler(" + dev + ") Unrecoverable error detected."
                + " Please collect any data possible and then kill the guest\n";
    }

    /** The real trace's first error, its header's wall-minus-monotonic offset. */
    public static long[] traceErrorAndOffset() throws Exception {
        List<AnalyzedEpisode> eps = KernelLogLabTest.trace(FR);
        try (InputStream in = Files.newInputStream(FR); var b = KernelLogs.open(in)) {
            return new long[] {eps.get(0).episode().start(), KernelLogs.traceRealtimeOffset(b)};
        }
    }

    @Test
    void detectedByContentAndReadWithItsLineNumbers() throws Exception {
        Path q = tmp.resolve("vm1.log");
        Files.writeString(q, qemuLog(1_796_165_071_000_000_000L, "0000:01:00.0") + "2026-12-01T22:44:32.000001Z qemu-system-x86_64: vfio_err_notifier_handler(0000:01:00.0) garbled\n");
        try (InputStream in = Files.newInputStream(q); var b = KernelLogs.open(in)) {
            assertEquals(KernelLogs.Kind.QEMU_LOG, KernelLogs.sniff(b));
            QemuLog.Result r = QemuLog.read(q.toString(), b);
            assertEquals(1, r.notifications().size());
            QemuLog.Notification n = r.notifications().get(0);
            assertEquals(4, n.line());
            assertEquals("vm1", n.vm());
            assertEquals("aertrace-lab", n.host());
            assertEquals(1_796_165_071_000_000_000L, n.realtimeNs());
            assertTrue(r.report().issues().stream().anyMatch(i -> i.lines().contains(5L)), r.report().issues().toString());
        }
    }

    @Test
    void aTracedRaceGetsTheVmStopOneMillisecondAfterTheError() throws Exception {
        long[] t = traceErrorAndOffset();
        Path q = tmp.resolve("vm1.log");
        Files.writeString(q, qemuLog(t[0] + t[1] + 1_000_000L, "0000:01:00.0"));
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("analyze", FR.toString(), q.toString());
        assertEquals(1, c.code(), "still a race: " + c.err());
        String out = c.out().replaceAll("\\s+", " ");
        assertTrue(out.contains("vm-stopped"), out);
        assertTrue(out.contains("vfio_err_notifier_handler(0000:01:00.0) at +1.000 ms"), out);
        assertTrue(out.contains("before the host recovered the device at +"), out);
        assertTrue(out.contains("the guest never saw the recovery"), out);
    }

    @Test
    void aKernelLogWithWallClockStampsJoinsToo() throws Exception {
        // the real 6.1 fatal-race dmesg lines with journald's clocks: realtime = boot + printk time
        long boot = 1_796_164_860_000_000_000L;
        StringBuilder j = new StringBuilder();
        long[][] us = {{205_206_617L}, {205_226_485L}, {205_521_967L}, {205_523_223L}};
        String[] msg = {"pcieport 0000:00:02.0: AER: Uncorrected (Fatal) error message received from 0000:01:00.0",
                "vfio-pci 0000:01:00.0: AER: PCIe Bus Error: severity=Uncorrected (Fatal), type=Inaccessible, (Unregistered Agent ID)",
                "pcieport 0000:00:02.0: AER: Root Port link has been reset (0)",
                "pcieport 0000:00:02.0: AER: device recovery successful"};
        for (int i = 0; i < msg.length; i++)
            j.append("{\"__REALTIME_TIMESTAMP\":\"").append(boot / 1000 + us[i][0] + 50).append("\",\"__MONOTONIC_TIMESTAMP\":\"")
                    .append(us[i][0] + 50).append("\",\"_SOURCE_MONOTONIC_TIMESTAMP\":\"").append(us[i][0])
                    .append("\",\"_TRANSPORT\":\"kernel\",\"MESSAGE\":\"").append(msg[i]).append("\"}\n");
        Path k = tmp.resolve("host.kmsg.json");
        Files.writeString(k, j.toString());
        Path q = tmp.resolve("vm1.log");
        Files.writeString(q, qemuLog(boot + 205_206_617_000L + 1_000_000L, "0000:01:00.0"));
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("analyze", q.toString(), k.toString());
        assertEquals(4, c.code(), "the VM stop is a failure the logs prove: " + c.out() + c.err());
        String out = c.out().replaceAll("\\s+", " ");
        assertTrue(out.contains("at +1.000 ms") && out.contains("before the host recovered the device at +316.606 ms"), out);
    }

    @Test
    void aDmesgWithoutWallClockIsNotGuessed() throws Exception {
        Path q = tmp.resolve("vm1.log");
        Files.writeString(q, qemuLog(1_796_165_071_000_000_000L, "0000:01:00.0"));
        KernelLogFormatsTest.Cli c = KernelLogFormatsTest.cli("analyze", KernelLogLabTest.LAB.resolve("kmsg/6.1/fatal-race.dmesg.gz").toString(), q.toString());
        assertFalse(c.out().contains("vm-stopped"), c.out());
        assertTrue(c.err().contains("not placed in time"), c.err());
    }

    /**
     * A trace with QEMU's own events and QEMU's log of the same VM: one stop, reported once (issue 12). The trace is the
     * real 6.1 qemu-fatal recording (QEMU's vm_stop uprobe gives the stop); the log line is the one that QEMU printed in
     * that run (qemu-fatal.qmp.txt keeps its stderr), stamped as -msg timestamp=on would at the vm_stop's wall time
     * (the lab's QEMU ran without -msg timestamp, so the stamp is computed from the trace header's clock pair).
     */
    @Test
    void aTracedStopAndQemusLogOfItAreOneVerdict() throws Exception {
        Path tr = KernelLogLabTest.LAB.resolve("6.1/qemu-fatal.jsonl.gz");
        String stderr = Files.readAllLines(KernelLogLabTest.LAB.resolve("6.1/qemu-fatal.qmp.txt")).stream()
                .filter(l -> l.startsWith("qemu-stderr: ") && l.contains("vfio_err_notifier_handler")).findFirst().orElseThrow()
                .substring("qemu-stderr: ".length());
        List<AnalyzedEpisode> eps = KernelLogLabTest.trace(tr);
        AnalyzedEpisode a = eps.stream().filter(x -> x.episode().hasRecovery()).findFirst().orElseThrow();
        long stop = a.qemu().get(0).internalErrorStop(a.episode().start()).ts();
        long offset;
        try (InputStream in = Files.newInputStream(tr); var b = KernelLogs.open(in)) {
            offset = KernelLogs.traceRealtimeOffset(b);
        }
        String iso = java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
                .withZone(java.time.ZoneOffset.UTC).format(Instant.ofEpochSecond(0, stop + offset));
        Path q = tmp.resolve("vm1.log");
        Files.writeString(q, iso + " " + stderr + "\n");
        KernelLogFormatsTest.Cli alone = KernelLogFormatsTest.cli("analyze", tr.toString());
        KernelLogFormatsTest.Cli both = KernelLogFormatsTest.cli("analyze", tr.toString(), q.toString());
        String out = both.out().replaceAll("\\s+", " ");
        assertEquals(1, out.split("\\* vm-stopped ", -1).length - 1, "one vm-stopped verdict for one stop: " + both.out());
        assertTrue(out.contains("QEMU's log has the same stop: vfio_err_notifier_handler(0000:01:00.0) at "), out);
        assertTrue(out.contains("vm_stop(internal-error)"), "the trace's verdict, with QEMU's own stop: " + out);
        assertEquals(alone.code(), both.code(), both.err());
        assertTrue(both.out().contains("summary: 1 episode"), both.out());
    }
}
