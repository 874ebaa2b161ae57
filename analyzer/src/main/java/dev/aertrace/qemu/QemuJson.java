package dev.aertrace.qemu;

import dev.aertrace.timeline.QemuLane;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.aertrace.ingest.QemuEvents;

import java.io.IOException;
import java.util.List;

/** The episode's {@code qemu} array in the report JSON (docs/report-json.md); written only when it has lanes. */
public final class QemuJson {
    private QemuJson() {}

    public static void write(JsonGenerator g, List<QemuLane> lanes) throws IOException {
        g.writeArrayFieldStart("qemu");
        for (QemuLane l : lanes) {
            g.writeStartObject();
            g.writeNumberField("pid", l.pid());
            g.writeStringField("comm", l.comm());
            g.writeArrayFieldStart("devices");
            for (String d : l.devices()) g.writeString(d);
            g.writeEndArray();
            if (l.joinedBy() != null) {
                g.writeObjectFieldStart("joined_by");
                g.writeStringField("type", l.joinedBy().type());
                g.writeNumberField("line", l.joinedBy().line());
                g.writeStringField("dev", l.joinedBy().dev());
                g.writeEndObject();
            } else g.writeNullField("joined_by");
            g.writeNumberField("from_ns", l.from());
            g.writeNumberField("to_ns", l.to());
            g.writeArrayFieldStart("run_states");
            for (QemuEvents.RunState s : l.states()) {
                g.writeStartObject();
                g.writeStringField("kind", s.vmStop() ? "vm_stop" : "runstate");
                g.writeNumberField("ts_ns", s.ts());
                g.writeNumberField("state", s.state());
                g.writeStringField("state_name", s.name());
                g.writeNumberField("line", s.line());
                g.writeEndObject();
            }
            g.writeEndArray();
            // the process's reads of its device's error eventfd (eventfd.read): QEMU noticing the error
            g.writeArrayFieldStart("notification_reads");
            for (dev.aertrace.ingest.Event.EventfdRead r : l.notificationReads()) {
                g.writeStartObject();
                g.writeNumberField("ts_ns", r.ts());
                g.writeStringField("dev", r.dev());
                if (r.ret() != null) g.writeNumberField("ret", r.ret());
                else g.writeNullField("ret");
                g.writeNumberField("line", r.line());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("system_resets");
            for (QemuEvents.SystemReset r : l.resets()) {
                g.writeStartObject();
                g.writeNumberField("ts_ns", r.ts());
                g.writeNumberField("reason", r.reason());
                g.writeStringField("reason_name", r.name());
                g.writeNumberField("line", r.line());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("accesses");
            for (QemuLane.GuestAccess x : l.accesses()) {
                g.writeStartObject();
                g.writeStringField("space", x.space().wire);
                g.writeNumberField("tid", x.tid());
                g.writeNumberField("start_ns", x.start());
                num(g, "end_ns", x.end());
                g.writeNumberField("offset", x.offset());
                g.writeNumberField("size", x.size());
                g.writeBooleanField("write", x.write());
                num(g, "value", x.value());
                g.writeStringField("served", x.served().id());
                g.writeStringField("dev", x.dev());
                num(g, "device_start_ns", x.device().isEmpty() ? null : x.deviceStart());
                g.writeNumberField("enter_line", x.enter().line());
                num(g, "exit_line", x.exit() == null ? null : x.exit().line());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("elided_accesses", l.elided());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void num(JsonGenerator g, String f, Long v) throws IOException {
        if (v == null) g.writeNullField(f);
        else g.writeNumberField(f, v);
    }
}
