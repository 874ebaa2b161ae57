package dev.aertrace.kernellog;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceHeader;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * QEMU's stderr or libvirt's per-VM log ({@code /var/log/libvirt/qemu/VM.log}): the vfio error notification. QEMU's
 * hw/vfio/pci.c {@code vfio_err_notifier_handler} prints, through error_report,
 * {@code "%s(%s) Unrecoverable error detected. Please collect any data possible and then kill the guest"} with
 * its own name and the device's name ({@code vbasedev.name}: the host address for {@code host=}), then calls
 * {@code vm_stop(RUN_STATE_INTERNAL_ERROR)} — the VM is paused with reason internal-error at that moment. With
 * {@code -msg timestamp=on} (libvirt always passes it) the line starts with QEMU's wall-clock time, ISO 8601 UTC
 * to the microsecond; libvirt's own lines ("starting up libvirt version: …, hostname: H") name the host and the
 * VM's command line its name ({@code -name guest=VM}).
 */
final class QemuLog {
    /** One notification: {@code realtimeNs} null when QEMU ran without -msg timestamp=on. */
    record Notification(String source, long line, Long realtimeNs, String dev, String vm, String host, String program) {}

    private static final Pattern NOTIFY = Pattern.compile(
            "^(?:(?<ts>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,9})?(?:Z|[+-]\\d\\d:?\\d\\d)) )?(?<prog>[\\w./-]{1,64}): "
                    + "vfio_err_notifier_handler\\((?<dev>[^)]{1,64})\\) Unrecoverable error detected\\. Please collect any data"
                    + " possible and then kill the guest$");
    private static final Pattern LIBVIRT_START = Pattern.compile(
            "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+\\d{4}: starting up libvirt version: .*?hostname: (?<host>[\\w.-]+).*$");
    private static final Pattern GUEST_NAME = Pattern.compile("(?:^|\\s)-name (?:guest=)?(?<vm>[^,\\s]+)");
    private static final Pattern BDF = Pattern.compile("^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$");

    /** QEMU/libvirt log lines look like this; a kernel log or a trace never has them. */
    static boolean looksLike(String head) {
        return head.contains("vfio_err_notifier_handler(") || head.contains(": starting up libvirt version:")
                || Pattern.compile("(?m)^(?:\\d{4}-\\d\\d-\\d\\dT\\S+ )?qemu-(?:system-\\w+|kvm): ").matcher(head).find();
    }

    record Result(SourceReport report, List<Notification> notifications) {}

    static Result read(String source, InputStream raw) {
        Diagnostics diag = new Diagnostics();
        List<Notification> out = new ArrayList<>();
        long lineNo = 0;
        String vm = null, host = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(KernelLogs.open(raw), StandardCharsets.UTF_8))) {
            String line;
            while ((line = boundedLine(r)) != null) {
                lineNo++;
                if (line.length() > KernelLogReader.MAX_LINE) {
                    diag.issue(Issue.Kind.CORRUPT_LINE, lineNo, "QEMU log: line longer than " + KernelLogReader.MAX_LINE + " characters");
                    continue;
                }
                Matcher m = LIBVIRT_START.matcher(line);
                if (m.matches()) {
                    host = m.group("host");
                    continue;
                }
                if (vm == null && line.contains("qemu") && line.contains(" -name ")) {
                    Matcher g = GUEST_NAME.matcher(line);
                    if (g.find()) vm = g.group("vm");
                }
                if (!line.contains("vfio_err_notifier_handler")) continue;
                m = NOTIFY.matcher(line.strip());
                if (!m.matches()) {
                    diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "QEMU log: a vfio_err_notifier_handler line in a shape QEMU does not print: "
                            + (line.length() > 120 ? line.substring(0, 120) + "…" : line));
                    continue;
                }
                Long ts = null;
                if (m.group("ts") != null) {
                    ts = iso(m.group("ts"));
                    if (ts == null) diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "QEMU log: unreadable timestamp " + m.group("ts"));
                }
                String dev = m.group("dev");
                if (BDF.matcher(dev).matches() && dev.length() == 7) dev = "0000:" + dev;
                if (out.size() < 100_000) out.add(new Notification(source, lineNo, ts, dev, vm, host, m.group("prog")));
            }
        } catch (IOException e) {
            diag.issue(lineNo == 0 ? Issue.Kind.UNREADABLE : Issue.Kind.TRUNCATED_LINE, lineNo + 1,
                    "QEMU log ended with an error after line " + lineNo + ": " + e.getMessage());
        }
        if (lineNo == 0) diag.issue(Issue.Kind.EMPTY_INPUT, 0, "no lines");
        String what = "QEMU/libvirt log" + (vm != null ? " of VM " + vm : "") + " (" + out.size() + " vfio error notification"
                + (out.size() == 1 ? "" : "s") + ")";
        TraceHeader h = new TraceHeader(1, what, host != null ? host : "(not in the log)", null, null, 0, 0, List.of(),
                List.of(), List.of(), Topology.EMPTY, 0);
        SourceReport rep = new SourceReport(source, h, null, lineNo, out.size(),
                out.isEmpty() ? Map.of() : Map.of("qemu.vfio_err_notifier", (long) out.size()), Map.of(), Map.of(), 0, 1, diag.issues());
        return new Result(rep, List.copyOf(out));
    }

    /** readLine with a bound: a line past MAX_LINE is returned cut to MAX_LINE + 1 characters (and the rest skipped). */
    private static String boundedLine(BufferedReader r) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        boolean any = false;
        while ((c = r.read()) >= 0) {
            any = true;
            if (c == '\n') break;
            if (sb.length() <= KernelLogReader.MAX_LINE) sb.append((char) c);
        }
        return any ? sb.toString() : null;
    }

    private static Long iso(String s) {
        try {
            String z = s.matches(".*[+-]\\d{4}$") ? s.substring(0, s.length() - 2) + ":" + s.substring(s.length() - 2) : s;
            OffsetDateTime t = OffsetDateTime.parse(z);
            return t.toEpochSecond() * 1_000_000_000L + t.getNano();
        } catch (DateTimeParseException | ArithmeticException e) {
            return null;
        }
    }
}
