package dev.aertrace.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.kernellog.RasDaemon;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "history", mixinStandardHelpOptions = true,
        description = {"AER history from rasdaemon's SQLite database (read-only): errors per device and type, per status bit, first and last seen; with several databases, which devices error most."},
        footer = {"", "Examples:",
                "  aertrace history /var/lib/rasdaemon/ras-mc_event.db",
                "  aertrace history --format json hostA.db hostB.db",
                "", "Exit codes: 0 read, 2 usage or a file that is not a rasdaemon database."})
final class HistoryCommand implements Callable<Integer> {
    enum Format { text, json }

    @Parameters(arity = "1..*", paramLabel = "DB", description = "rasdaemon databases (ras-mc_event.db); opened read-only.")
    List<Path> dbs;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    Format format;

    @Override
    public Integer call() throws Exception {
        List<RasDaemon.History> hs = new ArrayList<>();
        for (Path p : dbs) {
            String why = EpisodeInputs.unreadable(p.toString());
            if (why != null) {
                System.err.println("aertrace history: cannot read " + p + ": " + why);
                return 2;
            }
            try {
                hs.add(RasDaemon.read(p));
            } catch (RasDaemon.NotRasDaemon e) {
                System.err.println("aertrace history: " + p + ": " + e.getMessage());
                return 2;
            }
        }
        PrintStream out = System.out;
        if (format == Format.json) {
            ObjectMapper m = new ObjectMapper();
            m.enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
            m.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            m.writeValue(out, dev.aertrace.text.OrderedMap.of("databases", hs, "ranking", RasDaemon.ranking(hs).stream()
                    .map(e -> dev.aertrace.text.OrderedMap.of("device", e.getKey(), "errors", e.getValue())).toList()));
            out.println();
            return 0;
        }
        for (RasDaemon.History h : hs) {
            out.println("== rasdaemon " + h.source() + ": " + h.rows() + " AER event" + (h.rows() == 1 ? "" : "s")
                    + (h.first() != null ? ", " + h.first() + " .. " + h.last() : ""));
            for (Map.Entry<String, Map<String, Long>> d : h.byDevice().entrySet()) {
                StringBuilder sb = new StringBuilder("   " + d.getKey() + "  " + h.total(d.getKey()) + ":");
                d.getValue().forEach((t, n) -> sb.append("  ").append(t).append(" ×").append(n));
                out.println(sb);
            }
            if (!h.byBit().isEmpty()) {
                StringBuilder sb = new StringBuilder("   bits:");
                h.byBit().entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                        .limit(12).forEach(e -> sb.append("  ").append(e.getKey()).append(" ×").append(e.getValue()));
                out.println(sb);
            }
            for (RasDaemon.Problem p : h.problems()) out.println("   row id " + p.id() + ": " + p.what());
            if (h.problemCount() > h.problems().size()) out.println("   … " + (h.problemCount() - h.problems().size()) + " more rows with problems");
        }
        if (hs.size() > 1) {
            out.println("== devices by errors, all databases");
            for (Map.Entry<String, Long> e : RasDaemon.ranking(hs)) out.println("   " + e.getValue() + "  " + e.getKey());
        }
        return 0;
    }
}
