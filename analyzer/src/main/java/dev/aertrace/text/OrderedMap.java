package dev.aertrace.text;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A small map for an output (JSON object, trace-event args) whose keys print in the order given. Not
 * {@code Map.of}: its iteration order is salted per JVM, so the same trace printed differently from run to run
 * (the Chrome export of qemu-fatal's VM-state marks, found by GoldenOutputTest; history and ras-compare JSON).
 */
public final class OrderedMap {
    private OrderedMap() {}

    public static Map<String, Object> of(Object... keyValues) {
        if (keyValues.length % 2 != 0) throw new IllegalArgumentException("keys and values must pair up");
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) m.put((String) keyValues[i], keyValues[i + 1]);
        return m;
    }
}
