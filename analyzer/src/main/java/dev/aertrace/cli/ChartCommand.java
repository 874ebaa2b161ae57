package dev.aertrace.cli;

import dev.aertrace.chart.ChartFiles;
import dev.aertrace.chart.ChartOutput;
import dev.aertrace.chart.PhaseChart;
import dev.aertrace.compare.EpisodeMetrics;
import dev.aertrace.race.AnalyzedEpisode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

@Command(name = "chart", mixinStandardHelpOptions = true,
        header = "Draw episode timelines and phase charts as PNG/SVG.",
        description = {"Draw each episode's timeline (one lane per actor: AER event, host recovery, callbacks per device, host reset per bridge, each vfio user thread; host reset and race windows shaded) and the phase durations across all episodes, as PNG and/or SVG."},
        footer = {"", "Examples:",
                "  aertrace chart -o charts                           # the embedded 6.1 fatal-race lab trace",
                "  aertrace chart -o charts --format svg t.jsonl.gz   # SVG instead of PNG",
                "  aertrace chart -o charts --episode 3 t.jsonl       # one episode",
                "", "Writes DIR/<trace>-ep<N>-timeline.<ext> per episode and DIR/<trace>-phases.<ext>."})
final class ChartCommand implements Callable<Integer> {
    enum Format { png, svg, both }

    @Parameters(arity = "0..*", paramLabel = "TRACE", description = "Trace files (.jsonl or .jsonl.gz); default: the embedded lab trace.")
    List<String> traces;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", defaultValue = ".", description = "Output directory (default: current).")
    Path dir;

    @Option(names = "--format", defaultValue = "png", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--episode", paramLabel = "N", description = "Only these episode ids (repeatable).")
    Set<Integer> episodes;

    @Option(names = "--max", paramLabel = "N", defaultValue = "20", description = "At most N timeline charts per trace (default: ${DEFAULT-VALUE}).")
    int max;

    @Option(names = "--size", paramLabel = "WxH", defaultValue = "1200x600", description = "Pixel size (default: ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--no-phases", description = "Skip the phase-duration chart.")
    boolean noPhases;

    @Override
    public Integer call() throws Exception {
        int[] wh = ChartCommands.size(size);
        if (wh == null || max < 0) {
            System.err.println("aertrace chart: --size must be WxH with 200..6000 px each (got " + size + "), --max >= 0");
            return EpisodeInputs.USAGE;
        }
        if (!EpisodeInputs.check("chart", traces, System.err)) return EpisodeInputs.USAGE;
        List<String> inputs = traces == null || traces.isEmpty() ? java.util.Collections.singletonList(null) : traces;
        Map<String, Map<String, List<Long>>> byKernel = new LinkedHashMap<>();
        int written = 0;
        Prefetch read = new Prefetch("chart", inputs, Runtime.getRuntime().availableProcessors());
        int next = 0;
        for (String t : inputs) {
            // read by several threads, handed out in order with what reading printed (the same bytes as one by one)
            List<AnalyzedEpisode> eps = read.get(next++, System.err).episodes();
            String stem = EpisodeInputs.stem(eps.isEmpty() ? t : eps.get(0).episode().source());
            int drawn = 0;
            ChartOutput charts = new ChartOutput(dir, stem, exts(), wh[0], wh[1]);
            for (AnalyzedEpisode a : eps) {
                String k = a.episode().kernel() == null ? "unknown kernel" : a.episode().kernel();
                EpisodeMetrics.durations(a.episode()).forEach((p, d) ->
                        byKernel.computeIfAbsent(k, x -> new LinkedHashMap<>()).computeIfAbsent(p, x -> new ArrayList<>()).add(d));
                if (episodes != null && !episodes.contains(a.episode().id())) continue;
                if (drawn >= max) continue;
                drawn++;
                charts.episode(a);
            }
            List<Path> files = charts.flush();
            files.forEach(System.out::println);
            written += files.size();
            if (eps.isEmpty()) System.err.println("aertrace chart: " + (t == null ? "embedded trace" : t) + ": no episodes");
            else if (episodes != null && drawn == 0) {
                TreeSet<Integer> ids = new TreeSet<>();
                eps.forEach(a -> ids.add(a.episode().id()));
                System.err.println("aertrace chart: " + stem + ": no episode " + episodes + " (ids: " + ids + ")");
            } else if (drawn < eps.size() && episodes == null) {
                System.err.println("aertrace chart: " + stem + ": drew " + drawn + " of " + eps.size() + " episodes (--max)");
            }
            if (!noPhases && inputs.size() == 1 && !byKernel.isEmpty()) {
                written += phases(stem, byKernel, wh);
                byKernel.clear();
            }
        }
        read.close();
        if (!noPhases && inputs.size() > 1 && !byKernel.isEmpty()) written += phases("all", byKernel, wh);
        return written > 0 ? 0 : 1;
    }

    private int phases(String stem, Map<String, Map<String, List<Long>>> byKernel, int[] wh) throws Exception {
        Map<String, Map<String, double[]>> groups = ChartCommands.toArrays(byKernel);
        int n = 0;
        int episodesSeen = byKernel.values().stream().mapToInt(m -> m.values().stream().mapToInt(List::size).max().orElse(0)).sum();
        for (String ext : exts()) {
            Path out = dir.resolve(stem + "-phases." + ext);
            ChartFiles.write(PhaseChart.create("Recovery phase durations — " + String.join(" vs ", groups.keySet()),
                    groups, EpisodeMetrics.PHASES, "up to " + episodesSeen + " episodes; " + stem), out, wh[0], wh[1]);
            System.out.println(out);
            n++;
        }
        return n;
    }

    private List<String> exts() {
        return switch (format) {
            case png -> List.of("png");
            case svg -> List.of("svg");
            case both -> List.of("png", "svg");
        };
    }
}
