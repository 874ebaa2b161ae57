package dev.aertrace.cli;

import dev.aertrace.chart.ChartFiles;
import dev.aertrace.chart.PhaseChart;
import dev.aertrace.compare.CompareReport;
import dev.aertrace.compare.Comparison;
import dev.aertrace.compare.EpisodeMetrics;
import dev.aertrace.compare.PhaseTester;
import dev.aertrace.race.AnalyzedEpisode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "compare", mixinStandardHelpOptions = true,
        header = "Compare recovery timing and behaviour between kernels.",
        description = {"Compare recovery between kernel versions (or any labelled sets of traces): per phase count, median, p90, p99, max and a two-sided Mann-Whitney U test with a verdict (faster / slower / no detectable change at --alpha, Holm-adjusted across phases), plus behaviour differences: callbacks called, reset before/after mmio_enabled, results, races seen in one group and not the other. Episodes are grouped by the kernel release in each trace's header unless --label is given."},
        footer = {"", "Examples:",
                "  aertrace compare 6.1/fatal-race-x20.jsonl.gz 6.12/fatal-race-x20.jsonl.gz",
                "  aertrace compare --format markdown --chart cmp.png a.jsonl b.jsonl",
                "  aertrace compare --label before --label after old.jsonl new.jsonl",
                "  aertrace compare --split 6.1/fatal-race-x20.jsonl.gz   # odd vs even episodes: expect no change",
                "  aertrace compare episodes.jsonl       # exported from the fleet's episodes topic, grouped by kernel",
                "  aertrace compare --kafka kafka1:9092  # the episodes topic itself",
                "  aertrace compare -l 6.1 -l 6.12 hostA/ras-mc_event.db hostB/ras-mc_event.db",
                "                                        # rasdaemon databases: errors per kernel x device x type",
                "", "The first group is the baseline. Exit codes: 0 no difference, 1 a timing or behaviour",
                "difference was found, 2 usage or unreadable input (or an input without episodes), 3 no",
                "difference found but an input has holes (lost/unreadable/cut-off lines). With rasdaemon",
                "databases (counts only, no test): 0 read, 2 usage or a file that is not one."})
final class CompareCommand implements Callable<Integer> {
    /** No difference in what could be read, but an input had holes: like analyze's inconclusive. */
    static final int INCONCLUSIVE = 3;

    enum Format { text, markdown, json }

    enum Only { all, fatal, nonfatal, correctable }

    @Option(names = "--kafka", paramLabel = "BOOTSTRAP", description = "Also read every episode on the fleet's episodes topic (as it is now).")
    String kafka;

    @Option(names = "--episodes-topic", defaultValue = "aertrace.episodes", description = "With --kafka: the topic (default: ${DEFAULT-VALUE}).")
    String episodesTopic;

    @Parameters(arity = "0..*", paramLabel = "TRACE", description = {"Trace files (.jsonl or .jsonl.gz), or files of episodes exported from",
            "the fleet's episodes topic (one message per line; repeats of an episode_id count once),",
            "or rasdaemon databases (ras-mc_event.db; all inputs then), one --label each for its kernel."})
    List<String> traces;

    @Option(names = {"-l", "--label"}, paramLabel = "LABEL",
            description = "Group name for each TRACE, in order (one per TRACE; same label = same group).")
    List<String> labels;

    @Option(names = "--alpha", defaultValue = "0.05", description = "Significance level (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--min-samples", defaultValue = "" + PhaseTester.DEFAULT_MIN_SAMPLES, paramLabel = "N",
            description = "Do not test a phase with fewer episodes than N in a group (default: ${DEFAULT-VALUE}).")
    int minSamples;

    @Option(names = "--only", defaultValue = "all", description = "Episodes by AER severity: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Only only;

    @Option(names = "--against", defaultValue = "first", paramLabel = "first|previous",
            description = "Compare every group with the first (default) or each with the one before it (kernel to kernel).")
    String against;

    @Option(names = "--split", description = {"False-positive check: split every group's episodes alternately into",
            "'<group> odd' and '<group> even' and compare those (same kernel, same run: expect no change)."})
    boolean split;

    @Option(names = "--format", defaultValue = "text", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write the report to FILE instead of stdout.")
    Path output;

    @Option(names = "--chart", paramLabel = "FILE", description = "Also draw box plots per phase and group (.png or .svg; repeatable).")
    List<Path> charts;

    @Option(names = "--chart-phases", split = ",", paramLabel = "PHASE[,PHASE...]",
            description = "Only these phases in the --chart (the report and its tests keep all), e.g. recovery,reset.")
    List<String> chartPhases;

    /** rasdaemon databases: counts per group (--label, e.g. the kernel) x device x error type, no timing. */
    private int rasdaemon() throws java.io.IOException {
        if (kafka != null || split || charts != null) {
            System.err.println("aertrace compare: rasdaemon databases have counts, no timings: --kafka, --split and --chart do not apply");
            return EpisodeInputs.USAGE;
        }
        if (labels != null && labels.size() != traces.size()) {
            System.err.println("aertrace compare: give one --label per database (" + labels.size() + " labels, " + traces.size() + " databases)");
            return EpisodeInputs.USAGE;
        }
        if (!EpisodeInputs.check("compare", traces, System.err)) return EpisodeInputs.USAGE;
        List<dev.aertrace.kernellog.RasDaemon.History> hs = new ArrayList<>();
        String why = dev.aertrace.kernellog.RasCompare.read(traces, hs);
        if (why != null) {
            System.err.println("aertrace compare: " + why);
            return EpisodeInputs.USAGE;
        }
        var types = dev.aertrace.kernellog.RasCompare.TYPES;
        var r = dev.aertrace.kernellog.RasCompare.build(hs, labels, switch (only) {
            case all -> null;
            case correctable -> types.get(0);
            case nonfatal -> types.get(1);
            case fatal -> types.get(2);
        });
        if (output == null) dev.aertrace.kernellog.RasCompare.print(r, format.name(), System.out);
        else {
            Path parent = output.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            try (java.io.PrintStream w = new java.io.PrintStream(Files.newOutputStream(output), false, StandardCharsets.UTF_8)) {
                dev.aertrace.kernellog.RasCompare.print(r, format.name(), w);
            }
            System.err.println("aertrace compare: report -> " + output);
        }
        return 0;
    }

    /** Groups filled so far: a split group's next episode is odd or even; an episode_id is counted once. */
    private final Map<String, Integer> parity = new java.util.HashMap<>();
    private final java.util.Set<String> seenIds = new java.util.HashSet<>();
    private int skipped;

    @Override
    public Integer call() throws Exception {
        if (traces == null) traces = new ArrayList<>();
        if (dev.aertrace.kernellog.RasCompare.anyDatabase(traces)) return rasdaemon();
        Integer usage = checkInputs();
        if (usage != null) return usage;

        Comparison.Builder b = new Comparison.Builder();
        // An input with nothing to measure (empty, not a trace, a gzip cut before its first episode) or with holes
        // must not end in "no detectable change", exit 0: that would vouch for data that was never seen.
        List<String> unusable = new ArrayList<>(), damaged = new ArrayList<>();
        List<String> toRead = new ArrayList<>();
        for (String t : traces) if (t.equals("-") || !dev.aertrace.fleet.EpisodeFiles.isEpisodes(Path.of(t))) toRead.add(t);
        try (Prefetch inputs = new Prefetch("compare", toRead, Runtime.getRuntime().availableProcessors())) {
        int next = 0;
        for (int i = 0; i < traces.size(); i++) {
            String label = labels == null ? null : labels.get(i);
            if (!traces.get(i).equals("-") && dev.aertrace.fleet.EpisodeFiles.isEpisodes(Path.of(traces.get(i)))) {
                readEpisodes(b, traces.get(i), label, unusable);
                continue;
            }
            // read by several threads, handed out in order with what reading printed (the same bytes as one by one)
            Prefetch.Read read = inputs.get(next++, System.err);
            List<AnalyzedEpisode> eps = read.episodes();
            dev.aertrace.report.Totals t = new dev.aertrace.report.Totals();
            t.add(read.report());
            if (t.inputError || eps.isEmpty()) unusable.add(traces.get(i));
            else if (t.inputGaps) damaged.add(traces.get(i));
            if (label != null && !split) b.group(label, traces.get(i));
            for (AnalyzedEpisode a : eps) {
                if (!keep(a)) { skipped++; continue; }
                String g = label != null ? label : a.episode().kernel() == null ? "unknown kernel" : a.episode().kernel();
                if (split) g += (parity.merge(g, 1, Integer::sum) % 2 == 1 ? " odd" : " even");
                b.add(g, a);
            }
            if (eps.isEmpty()) System.err.println("aertrace compare: " + traces.get(i) + ": no episodes");
        }
        }
        if (skipped > 0) System.err.println("aertrace compare: " + skipped + " episodes skipped by --only " + only);
        Comparison.Result r;
        try {
            String filter = only == Only.all ? null : "only " + only + " errors";
            if (split) filter = (filter == null ? "" : filter + "; ") + "each group split alternately into odd/even episodes";
            r = b.build(alpha, minSamples, filter, against.equals("previous"));
        } catch (IllegalArgumentException e) {
            System.err.println("aertrace compare: " + e.getMessage());
            return EpisodeInputs.USAGE;
        }
        writeReport(r);
        if (charts != null) drawCharts(r);
        if (r.pairs().stream().anyMatch(p -> p.differences() > 0)) return 1;
        if (!unusable.isEmpty()) {
            System.err.println("aertrace compare: no episode could be read from " + String.join(", ", unusable)
                    + ": nothing was compared for it, so no change is not a finding (exit 2)");
            return EpisodeInputs.USAGE;
        }
        if (!damaged.isEmpty()) {
            System.err.println("aertrace compare: " + String.join(", ", damaged) + " has holes (lost, unreadable or cut-off"
                    + " lines, listed above): no change was found in what could be read, which is not a finding (exit 3)");
            return INCONCLUSIVE;
        }
        return 0;
    }

    /** --kafka's topic fetched into a file, then the arguments checked: null when fine, else the exit code. */
    private Integer checkInputs() throws Exception {
        if (kafka != null) {
            Path tmp = Files.createTempFile("aertrace-episodes", ".jsonl");
            tmp.toFile().deleteOnExit();
            try {
                long n = dev.aertrace.fleet.EpisodeFiles.exportTopic(kafka, episodesTopic, Map.of(), tmp);
                System.err.println("aertrace compare: " + n + " messages from " + episodesTopic + " at " + kafka);
            } catch (java.io.IOException e) {
                System.err.println("aertrace compare: " + e.getMessage());
                return EpisodeInputs.USAGE;
            }
            traces.add(0, tmp.toString());
            if (labels != null) labels.add(0, episodesTopic);
        }
        if (traces.isEmpty()) {
            System.err.println("aertrace compare: give TRACE files (or exported episodes), or --kafka BOOTSTRAP");
            return EpisodeInputs.USAGE;
        }
        if (!(alpha > 0 && alpha < 1) || minSamples < 2 || !(against.equals("first") || against.equals("previous"))) {
            System.err.println("aertrace compare: --alpha must be in (0,1), --min-samples >= 2, --against first|previous");
            return EpisodeInputs.USAGE;
        }
        if (labels != null && labels.size() != traces.size()) {
            System.err.println("aertrace compare: give one --label per TRACE (" + labels.size() + " labels, " + traces.size() + " traces)");
            return EpisodeInputs.USAGE;
        }
        if (charts != null) {
            for (Path c : charts) {
                try { ChartFiles.Format.of(c); } catch (IllegalArgumentException e) {
                    System.err.println("aertrace compare: " + e.getMessage());
                    return EpisodeInputs.USAGE;
                }
            }
        }
        if (!EpisodeInputs.check("compare", traces, System.err)) return EpisodeInputs.USAGE;
        return null;
    }

    /** A file exported from the fleet's episodes topic: measured already, one per episode_id. */
    private void readEpisodes(Comparison.Builder b, String trace, String label, List<String> unusable) throws Exception {
        var read = dev.aertrace.fleet.EpisodeFiles.read(Path.of(trace), seenIds);
        for (String p : read.problems()) System.err.println("aertrace compare: " + trace + ": " + p);
        if (read.duplicates() > 0)
            System.err.println("aertrace compare: " + trace + ": " + read.duplicates() + " re-sent episodes (same episode_id) counted once");
        if (label != null && !split) b.group(label, trace);
        for (var x : read.episodes()) {
            if (!keepSeverity(x.severity(), null)) { skipped++; continue; }
            String g = label != null ? label : x.kernel() == null ? "unknown kernel" : x.kernel();
            if (split) g += (parity.merge(g, 1, Integer::sum) % 2 == 1 ? " odd" : " even");
            b.add(g, x.source(), x.durations(), x.behaviour());
        }
        if (read.episodes().isEmpty()) {
            System.err.println("aertrace compare: " + trace + ": no episodes");
            unusable.add(trace);
        }
    }

    private void writeReport(Comparison.Result r) throws Exception {
        String report = switch (format) {
            case text -> CompareReport.text(r);
            case markdown -> CompareReport.markdown(r);
            case json -> CompareReport.json(r);
        };
        if (output == null) System.out.print(report);
        else {
            Path parent = output.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            try (java.io.Writer w = ExportCommand.utf8(output)) { w.write(report); }
            System.err.println("aertrace compare: report -> " + output);
        }
    }

    /** Box plots per phase and group, the detectable changes in bold under their phase. */
    private void drawCharts(Comparison.Result r) throws Exception {
        Map<String, Map<String, double[]>> groups = new LinkedHashMap<>();
        for (Comparison.Group g : r.groups()) {
            Map<String, double[]> d = new LinkedHashMap<>(g.durations());
            if (chartPhases != null) d.keySet().retainAll(chartPhases);
            groups.put(g.name(), d);
        }
        Map<String, String> marks = new LinkedHashMap<>();
        for (Comparison.Pair p : r.pairs()) {
            for (var c : p.phases()) {
                if (c.verdict() == dev.aertrace.compare.PhaseVerdict.SLOWER || c.verdict() == dev.aertrace.compare.PhaseVerdict.FASTER) {
                    String m = (c.verdict() == dev.aertrace.compare.PhaseVerdict.SLOWER ? "▲" : "▼")
                            + String.format(Locale.ROOT, " ×%.2f", c.medianRatio())
                            + (r.pairs().size() > 1 ? " " + shortName(p.other()) : "");
                    marks.merge(c.phase(), m, (x, y) -> x + "\n" + y);
                }
            }
        }
        for (Path c : charts) {
            String note = "bold: detectable change, ▲ slower ▼ faster ×median ratio (Mann-Whitney U, Holm-adjusted, alpha " + alpha + "), "
                    + (r.pairs().size() > 1 && !r.pairs().get(1).baseline().equals(r.groups().get(0).name())
                    ? "each group against the one before" : "against " + r.groups().get(0).name())
                    ;
            ChartFiles.write(PhaseChart.create("Recovery phases: " + String.join(" vs ", groups.keySet()), groups,
                    EpisodeMetrics.PHASES, note, marks), c, ChartFiles.WIDTH, ChartFiles.HEIGHT);
            System.err.println("aertrace compare: chart -> " + c);
        }

    }

    /** "6.12.118+deb13-amd64" → "6.12.118": enough to tell kernels apart under a chart's axis. */
    static String shortName(String group) {
        int i = 0;
        while (i < group.length() && (Character.isDigit(group.charAt(i)) || group.charAt(i) == '.')) i++;
        return i >= 3 ? group.substring(0, i) : group;
    }

    private boolean keep(AnalyzedEpisode a) {
        return keepSeverity(a.episode().severity(), a.episode().fatal());
    }

    /** @param fatal for an episode without an AER event, whether its recovery was a fatal one (null: unknown) */
    private boolean keepSeverity(Integer s, Boolean fatal) {
        if (only == Only.all) return true;
        String sev = s == null ? (Boolean.TRUE.equals(fatal) ? "fatal" : "unknown") : switch (s) {
            case 0 -> "nonfatal";
            case 1 -> "fatal";
            case 2 -> "correctable";
            default -> "unknown";
        };
        return sev.equals(only.name().toLowerCase(Locale.ROOT));
    }
}
