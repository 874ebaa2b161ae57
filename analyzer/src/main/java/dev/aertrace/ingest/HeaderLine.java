package dev.aertrace.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A trace's header line, read as a tree (it is one line per trace, nested, and its shape is checked by {@link Strict}). */
public final class HeaderLine {
    private HeaderLine() {}

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * The header's tree, as jackson-databind's {@code ObjectMapper.readTree} builds it (the same node types, the last
     * of a duplicate key kept, what follows the first value ignored, a missing node for no content; HeaderLineTest
     * holds the two equal) but from jackson-core's parser alone: an ObjectMapper's first use costs ~50 ms of a
     * 0.2 s start (its date formats load the JDK's locale data), for one line per trace. Throws for a line that
     * is not JSON, with the parser's message.
     */
    public static JsonNode tree(byte[] b, int off, int len) throws IOException {
        return tree(FACTORY.createParser(b, off, len));
    }

    /** The same from a string (a header already decoded). */
    public static JsonNode tree(String s) throws IOException {
        return tree(FACTORY.createParser(s));
    }

    private static JsonNode tree(JsonParser parser) throws IOException {
        try (JsonParser p = parser) {
            JsonToken t = p.nextToken();
            return t == null ? NODES.missingNode() : value(p, t);
        }
    }

    /** The value starting at token t (recursion depth bounded by the parser's nesting limit, 1,000). */
    private static JsonNode value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT -> {
                ObjectNode o = NODES.objectNode();
                for (t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                    String name = p.currentName();
                    o.replace(name, value(p, p.nextToken()));
                }
                return o;
            }
            case START_ARRAY -> {
                ArrayNode a = NODES.arrayNode();
                for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) a.add(value(p, t));
                return a;
            }
            case VALUE_STRING -> { return NODES.textNode(p.getText()); }
            case VALUE_NUMBER_INT -> {
                return switch (p.getNumberType()) {
                    case INT -> NODES.numberNode(p.getIntValue());
                    case LONG -> NODES.numberNode(p.getLongValue());
                    default -> NODES.numberNode(p.getBigIntegerValue());
                };
            }
            case VALUE_NUMBER_FLOAT -> { return NODES.numberNode(p.getDoubleValue()); }
            case VALUE_TRUE -> { return NODES.booleanNode(true); }
            case VALUE_FALSE -> { return NODES.booleanNode(false); }
            case VALUE_NULL -> { return NODES.nullNode(); }
            default -> throw new IOException("unexpected " + t + " in a JSON value");
        }
    }

    static TraceHeader parse(JsonNode n, long line) {
        List<Topology.PciDevice> devs = new ArrayList<>();
        JsonNode topo = n.path("topology");
        for (JsonNode d : topo.isArray() ? topo : NODES.arrayNode()) {
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
