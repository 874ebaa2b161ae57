package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A trace's header line, read as a tree (it is one line per trace, nested, and its shape is checked by {@link Strict}). */
final class HeaderLine {
    private HeaderLine() {}

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** The header's tree; throws for a line that is not JSON. */
    static JsonNode tree(byte[] b, int off, int len) throws IOException {
        return MAPPER.readTree(b, off, len);
    }

    static TraceHeader parse(JsonNode n, long line) {
        List<Topology.PciDevice> devs = new ArrayList<>();
        JsonNode topo = n.path("topology");
        for (JsonNode d : topo.isArray() ? topo : MAPPER.createArrayNode()) {
            if (!d.isObject()) continue;
            devs.add(new Topology.PciDevice(d.path("dev").asText(), text(d, "vendor"), text(d, "device"),
                    text(d, "class"), text(d, "driver"), text(d, "parent"), d.path("bridge").asBoolean(false),
                    d.hasNonNull("iommu_group") ? d.get("iommu_group").asInt() : null, d.path("aer").asBoolean(false),
                    d.hasNonNull("aer_cap") ? d.get("aer_cap").asInt() : null));
        }
        List<String> filter = new ArrayList<>();
        for (JsonNode f : n.path("filter").path("devices")) filter.add(f.asText());
        JsonNode version = n.path("schema_version");
        return new TraceHeader(version.isIntegralNumber() && version.canConvertToInt() ? version.asInt() : -1, text(n, "agent"), text(n, "host"), text(n, "kernel"),
                text(n, "boot_id"), n.path("mono_ns").asLong(), n.path("realtime_ns").asLong(),
                probes(n.path("probes").path("attached")), probes(n.path("probes").path("missing")),
                List.copyOf(filter), new Topology(devs), line);
    }

    private static List<TraceHeader.Probe> probes(JsonNode arr) {
        List<TraceHeader.Probe> out = new ArrayList<>();
        for (JsonNode p : arr) {
            List<String> c = new ArrayList<>();
            for (JsonNode x : p.path("candidates")) c.add(x.asText());
            out.add(new TraceHeader.Probe(text(p, "event"), text(p, "kind"), text(p, "symbol"), List.copyOf(c), text(p, "reason")));
        }
        return List.copyOf(out);
    }

    private static String text(JsonNode n, String f) {
        JsonNode v = n.get(f);
        return v == null || v.isNull() ? null : v.asText();
    }
}
