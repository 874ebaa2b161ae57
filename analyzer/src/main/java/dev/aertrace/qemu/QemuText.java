package dev.aertrace.qemu;

import dev.aertrace.timeline.QemuLane;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.QemuEvents;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
import dev.aertrace.timeline.Episode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static dev.aertrace.text.Durations.offsetMs;
import static dev.aertrace.text.Durations.rel;

import dev.aertrace.text.Text;

/** The QEMU lane in the 80-column text report and the mail timeline: a summary paragraph and timeline rows. */
public final class QemuText {
    private QemuText() {}

    /** One timeline row: {@code cols} = mark, ms since the error, side ("qemu"), device/"vm", text. */
    public record Row(long ts, String[] cols) {}

    /** The lane's summary as one paragraph per QEMU process (to be wrapped by the caller); empty without lanes. */
    public static List<String> summary(AnalyzedEpisode a) {
        List<String> out = new ArrayList<>();
        Episode ep = a.episode();
        for (QemuLane l : a.qemu()) {
            StringBuilder s = new StringBuilder("qemu: pid ").append(l.pid()).append(" (").append(l.comm()).append(") holds ")
                    .append(String.join(" ", l.devices()));
            if (l.joinedBy() != null) s.append(" (its ").append(l.joinedBy().type()).append(", line ").append(l.joinedBy().line()).append(")");
            int before = 0, passed = 0, emulated = 0, unknown = 0;
            for (QemuLane.GuestAccess x : l.accesses()) {
                if (x.end() != null && x.end() < ep.start()) {
                    before++;
                    continue;
                }
                switch (x.served()) {
                    case PASSED -> passed++;
                    case EMULATED -> emulated++;
                    case UNKNOWN -> unknown++;
                }
            }
            s.append("; guest accesses in the episode: ").append(passed + emulated + unknown);
            if (passed + emulated + unknown > 0) {
                s.append(" (").append(passed).append(" passed to the device, ").append(emulated).append(" emulated");
                if (unknown > 0) s.append(", ").append(unknown).append(" not known");
                s.append(")");
            }
            if (l.elided() > 0) s.append(", ").append(l.elided()).append(" more not kept");
            if (before > 0) s.append(", the last ").append(before).append(" before it shown");
            Event.EventfdRead read = l.notificationRead(ep.start());
            if (read != null) s.append("; QEMU read the error notification at ").append(rel(ep.start(), read.ts()))
                    .append(" (its read of vfio's error eventfd, line ").append(read.line()).append(")");
            s.append("; VM ").append(vm(ep, l)).append('.');
            out.add(s.toString());
        }
        return out;
    }

    /** The VM's run state through the episode, e.g. "running, internal-error at +75.720 ms (vm_stop), still so at the end". */
    static String vm(Episode ep, QemuLane l) {
        StringBuilder s = new StringBuilder();
        String cur = null;
        for (QemuEvents.RunState r : l.states()) {
            if (r.ts() < ep.start()) {
                cur = r.label();
                s.append(cur).append(" when the error came");
                continue;
            }
            if (r.label().equals(cur)) continue; // vm_stop, then runstate_set into the same state
            s.append(s.length() == 0 ? "" : ", ").append(r.label()).append(" at ").append(rel(ep.start(), r.ts()))
                    .append(r.vmStop() ? " (vm_stop)" : "");
            cur = r.label();
        }
        for (QemuEvents.SystemReset r : l.resets())
            s.append(s.length() == 0 ? "" : ", ").append("system_reset (").append(r.label()).append(") at ").append(rel(ep.start(), r.ts()));
        if (s.length() == 0) return "state not in the trace";
        if (cur != null) s.append(", still ").append(cur).append(" at the episode's end");
        return s.toString();
    }

    /** Timeline rows of every lane: guest accesses (repeats fold like the user's), run-state changes, system resets. */
    public static List<Row> rows(Episode ep, List<QemuLane> lanes, Set<Event> evidence) {
        List<Row> out = new ArrayList<>();
        for (QemuLane l : lanes) {
            for (QemuLane.GuestAccess x : l.accesses())
                out.add(new Row(x.start(), new String[] {mark(evidence, x.enter(), x.exit()), offsetMs(x.start() - ep.start()), "qemu",
                        Text.shortDev(x.dev()), access(x)}));
            for (QemuEvents.RunState r : l.states()) {
                if (r.ts() < ep.start()) continue;
                out.add(new Row(r.ts(), new String[] {mark(evidence, r), offsetMs(r.ts() - ep.start()), "qemu", "vm",
                        (r.vmStop() ? "vm_stop(" + r.label() + ")" : "runstate → " + r.label()) + " pid " + l.pid()}));
            }
            for (QemuEvents.SystemReset r : l.resets())
                out.add(new Row(r.ts(), new String[] {mark(evidence, r), offsetMs(r.ts() - ep.start()), "qemu", "vm",
                        "system_reset (" + r.label() + ") pid " + l.pid()}));
            for (Event.EventfdRead r : l.notificationReads())
                out.add(new Row(r.ts(), new String[] {mark(evidence, r), offsetMs(r.ts() - ep.start()), "qemu", Text.shortDev(r.dev()),
                        "read the error notification (eventfd" + (r.ret() != null && r.ret() < 0 ? ", ret " + r.ret() : "")
                                + ") pid " + l.pid()}));
        }
        return out;
    }

    /** The guest's access as QEMU served it (the side column says qemu): "cfg rd 0x04 (COMMAND)/4 = 0x00100103 → device tid 1592". */
    static String access(QemuLane.GuestAccess x) { return served(x) + " tid " + x.tid(); }

    static String served(QemuLane.GuestAccess x) {
        String what = x.phraseWithValue();
        String how = switch (x.served()) {
            case PASSED -> " → device";
            case EMULATED -> " emulated";
            case UNKNOWN -> x.exit() == null ? " (no exit)" : " (not known)";
        };
        return what + how;
    }

    private static String mark(Set<Event> evidence, Event... es) {
        for (Event e : es) if (e != null && evidence.contains(e)) return "!";
        return " ";
    }
}
