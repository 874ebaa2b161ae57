package dev.aertrace.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small helpers shared by the chart, compare and bench commands. */
final class ChartCommands {
    private ChartCommands() {}

    /** "1200x600" → {1200, 600}; null when malformed or out of 200..6000. */
    static int[] size(String s) {
        String[] p = s.toLowerCase().split("x");
        if (p.length != 2) return null;
        try {
            int w = Integer.parseInt(p[0].trim()), h = Integer.parseInt(p[1].trim());
            return w < 200 || h < 200 || w > 6000 || h > 6000 ? null : new int[] {w, h};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static Map<String, Map<String, double[]>> toArrays(Map<String, Map<String, List<Long>>> in) {
        Map<String, Map<String, double[]>> out = new LinkedHashMap<>();
        in.forEach((g, m) -> {
            Map<String, double[]> x = new LinkedHashMap<>();
            m.forEach((p, v) -> x.put(p, v.stream().mapToDouble(Long::doubleValue).toArray()));
            out.put(g, x);
        });
        return out;
    }
}
