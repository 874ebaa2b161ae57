package dev.aertrace.kernellog;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code aertrace compare} over rasdaemon databases: "which devices and kernels error most" — AER error counts per
 * group × device × error type, devices and groups ranked by their totals. rasdaemon stores no kernel release (nor
 * host), so a group is the {@code --label} given for a database (the kernel it ran, say), else the file itself;
 * databases with the same label are added up. These are counts of what rasdaemon recorded, not a test: nothing
 * here says a difference is significant, and the exit code does not claim one.
 */
public final class RasCompare {
    private RasCompare() {}

    /** The three AER severities, in rasdaemon's own words (ras-aer-handler.c), in report order. */
    public static final List<String> TYPES = List.of("Corrected", "Uncorrected (Non-Fatal)", "Uncorrected (Fatal)");

    /** One group's counts: device → type → errors. */
    public record Group(String name, List<String> databases, Map<String, Map<String, Long>> byDevice) {
        public long total() {
            return byDevice.values().stream().flatMap(m -> m.values().stream()).mapToLong(Long::longValue).sum();
        }

        public long total(String type) {
            return byDevice.values().stream().mapToLong(m -> m.getOrDefault(type, 0L)).sum();
        }
    }

    public record Row(String group, String device, Map<String, Long> byType, long total) {}

    public record Result(List<Group> groups, List<Row> rows, List<Map.Entry<String, Long>> devices,
                         List<Map.Entry<String, Long>> kernels, String filter, List<String> problems) {}

    /** True when any of the inputs is an SQLite file: then all must be (checked by {@link #run}). */
    public static boolean anyDatabase(List<String> inputs) {
        return inputs.stream().anyMatch(t -> !t.equals("-") && Files.isRegularFile(Path.of(t)) && RasDaemon.isSqlite(Path.of(t)));
    }

    /** rasdaemon's err_type, canonical; null for one it does not write. */
    static String type(String errType) {
        Integer s = KernelLogReader.severity(errType);
        return s == null ? null : s == 2 ? TYPES.get(0) : s == 0 ? TYPES.get(1) : TYPES.get(2);
    }

    /**
     * @param only null for every type, else one of {@link #TYPES}
     */
    public static Result build(List<RasDaemon.History> hs, List<String> labels, String only) {
        Map<String, Group> groups = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < hs.size(); i++) {
            RasDaemon.History h = hs.get(i);
            String g = labels == null ? h.source() : labels.get(i);
            Group grp = groups.computeIfAbsent(g, k -> new Group(k, new ArrayList<>(), new TreeMap<>()));
            grp.databases().add(h.source());
            h.byDevice().forEach((dev, types) -> types.forEach((t, n) -> {
                String c = type(t);
                if (c == null || (only != null && !only.equals(c))) return;
                grp.byDevice().computeIfAbsent(dev, k -> new TreeMap<>()).merge(c, n, Long::sum);
            }));
            if (h.problemCount() > 0)
                problems.add(h.source() + ": " + h.problemCount() + " row" + (h.problemCount() == 1 ? "" : "s")
                        + " not counted or without a time (first: row id " + h.problems().get(0).id() + ": " + h.problems().get(0).what()
                        + "); `aertrace history " + h.source() + "` lists them");
        }
        List<Row> rows = new ArrayList<>();
        Map<String, Long> devs = new TreeMap<>(), kernels = new LinkedHashMap<>();
        for (Group g : groups.values()) {
            kernels.put(g.name(), g.total());
            g.byDevice().forEach((dev, m) -> {
                long t = m.values().stream().mapToLong(Long::longValue).sum();
                rows.add(new Row(g.name(), dev, m, t));
                devs.merge(dev, t, Long::sum);
            });
        }
        return new Result(List.copyOf(groups.values()), rows, ranked(devs), ranked(kernels), only == null ? null : "only " + only, problems);
    }

    private static List<Map.Entry<String, Long>> ranked(Map<String, Long> m) {
        List<Map.Entry<String, Long>> l = new ArrayList<>(m.entrySet());
        l.sort(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        return l;
    }

    static final String NOTE = "rasdaemon records no kernel release or host: a group is the --label given for a database"
            + " (same label = added up), else the file. Counts of recorded errors, not a significance test.";

    public static String text(Result r) {
        StringBuilder sb = new StringBuilder("== rasdaemon AER errors by group, device and type" + (r.filter() == null ? "" : " (" + r.filter() + ")") + "\n");
        sb.append("   ").append(NOTE).append('\n');
        int gw = Math.max(5, r.groups().stream().mapToInt(g -> g.name().length()).max().orElse(5));
        sb.append(String.format("   %-" + gw + "s  %-12s %9s %23s %19s %7s%n", "group", "device", TYPES.get(0), TYPES.get(1), TYPES.get(2), "total"));
        for (Row row : r.rows())
            sb.append(String.format("   %-" + gw + "s  %-12s %9d %23d %19d %7d%n", row.group(), row.device(),
                    row.byType().getOrDefault(TYPES.get(0), 0L), row.byType().getOrDefault(TYPES.get(1), 0L),
                    row.byType().getOrDefault(TYPES.get(2), 0L), row.total()));
        sb.append("== groups (kernels) by errors\n");
        for (Map.Entry<String, Long> e : r.kernels()) {
            Group g = r.groups().stream().filter(x -> x.name().equals(e.getKey())).findFirst().orElseThrow();
            sb.append(String.format("   %7d  %s  (%s)%n", e.getValue(), e.getKey(),
                    String.join(", ", TYPES.stream().map(t -> t + " " + g.total(t)).toList())));
        }
        sb.append("== devices by errors, all groups\n");
        for (Map.Entry<String, Long> e : r.devices()) sb.append(String.format("   %7d  %s%n", e.getValue(), e.getKey()));
        for (String p : r.problems()) sb.append("   note: ").append(p).append('\n');
        return sb.toString();
    }

    public static String markdown(Result r) {
        StringBuilder sb = new StringBuilder("## rasdaemon AER errors by group, device and type" + (r.filter() == null ? "" : " (" + r.filter() + ")") + "\n\n");
        sb.append(NOTE).append("\n\n| group | device | ").append(String.join(" | ", TYPES)).append(" | total |\n|---|---|---:|---:|---:|---:|\n");
        for (Row row : r.rows())
            sb.append("| ").append(row.group()).append(" | ").append(row.device()).append(" | ")
                    .append(String.join(" | ", TYPES.stream().map(t -> String.valueOf(row.byType().getOrDefault(t, 0L))).toList()))
                    .append(" | ").append(row.total()).append(" |\n");
        sb.append("\n| group | errors |\n|---|---:|\n");
        for (Map.Entry<String, Long> e : r.kernels()) sb.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
        sb.append("\n| device | errors |\n|---|---:|\n");
        for (Map.Entry<String, Long> e : r.devices()) sb.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
        for (String p : r.problems()) sb.append("\nNote: ").append(p).append('\n');
        return sb.toString();
    }

    public static String json(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", "rasdaemon");
        m.put("note", NOTE);
        if (r.filter() != null) m.put("filter", r.filter());
        m.put("groups", r.groups().stream().map(g -> dev.aertrace.text.OrderedMap.of("name", g.name(), "databases", g.databases(), "errors", g.total())).toList());
        m.put("rows", r.rows());
        m.put("kernels", r.kernels().stream().map(e -> dev.aertrace.text.OrderedMap.of("group", e.getKey(), "errors", e.getValue())).toList());
        m.put("devices", r.devices().stream().map(e -> dev.aertrace.text.OrderedMap.of("device", e.getKey(), "errors", e.getValue())).toList());
        m.put("problems", r.problems());
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads every input as a rasdaemon database; null when all were read, else the one-line reason (the caller
     * exits 2 with it).
     */
    public static String read(List<String> inputs, List<RasDaemon.History> into) {
        for (String t : inputs) {
            if (t.equals("-") || !RasDaemon.isSqlite(Path.of(t)))
                return t + " is not an SQLite database: rasdaemon databases are compared with each other, not with traces or logs";
            try {
                into.add(RasDaemon.read(Path.of(t)));
            } catch (RasDaemon.NotRasDaemon e) {
                return t + ": " + e.getMessage();
            }
        }
        return null;
    }

    /** Prints the report; used by the compare command. */
    public static void print(Result r, String format, PrintStream out) {
        out.print(switch (format) {
            case "markdown" -> markdown(r);
            case "json" -> json(r);
            default -> text(r);
        });
    }
}
