package dev.aertrace.cli;

import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.RaceDetector;
import dev.aertrace.report.JsonReport;
import dev.aertrace.report.ReportSink;
import dev.aertrace.report.TextReport;
import dev.aertrace.timeline.TimelineBuilder;
import picocli.CommandLine.Option;

import java.io.PrintStream;

/** Options shared by {@code analyze} and {@code record}. */
final class AnalysisOptions {
    enum Format { text, json }

    @Option(names = "--format", defaultValue = "text", description = "Report format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--pretty", description = "JSON: indented (default: one line).")
    boolean pretty;

    enum Accesses { window, all }

    @Option(names = "--accesses", defaultValue = "window", paramLabel = "WHICH",
            description = "JSON: which user accesses each episode lists: window (evidence and those overlapping a verdict or a host reset, the rest counted; report_version 3) or all (report_version 2) (default: ${DEFAULT-VALUE}).")
    Accesses accesses;

    @Option(names = "--settle", defaultValue = "2000", paramLabel = "MS",
            description = "How long after a recovery ends user actions still belong to it (default: ${DEFAULT-VALUE} ms).")
    long settleMs;

    @Option(names = "--reorder-window", defaultValue = "1000", paramLabel = "MS",
            description = "How late an event from another CPU may arrive and still be put in order (default: ${DEFAULT-VALUE} ms).")
    long reorderMs;

    @Option(names = "--aer-cap", defaultValue = "0x100", paramLabel = "OFFSET", converter = HexLong.class,
            description = "Config-space offset of the AER capability, to recognise AER status reads, for devices whose trace header does not give it (default: ${DEFAULT-VALUE}).")
    long aerCap;

    @Option(names = "--timeline-lines", defaultValue = "60", paramLabel = "N",
            description = "Maximum timeline lines per episode in the text report (default: ${DEFAULT-VALUE}).")
    int timelineLines;

    Analyzer.Options analyzerOptions() {
        TimelineBuilder.Options t = TimelineBuilder.Options.defaults();
        return new Analyzer.Options(reorderMs * 1_000_000L, Analyzer.Options.defaults().reorderMaxEvents(),
                new TimelineBuilder.Options(settleMs * 1_000_000L, t.preGapNs(), t.maxHoldNs(), t.maxEventsPerEpisode()),
                new RaceDetector.Options(aerCap, RaceDetector.Options.defaults().maxEvidence()));
    }

    ReportSink sink(PrintStream out) {
        return format == Format.json ? new JsonReport(out, pretty, accesses == Accesses.all) : new TextReport(out, timelineLines);
    }

    void validate(picocli.CommandLine.Model.CommandSpec spec) {
        if (settleMs < 0 || reorderMs < 0 || timelineLines < 0 || aerCap < 0x100 || aerCap > 0xffc)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--settle/--reorder-window/--timeline-lines must be >= 0 and --aer-cap within 0x100..0xffc");
    }

    static final class HexLong implements picocli.CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String v) {
            String s = v.trim().toLowerCase();
            return s.startsWith("0x") ? Long.parseLong(s.substring(2), 16) : Long.parseLong(s);
        }
    }
}
