package dev.aertrace.cli;

import dev.aertrace.report.EpisodeOutput;
import dev.aertrace.export.CsvExport;
import dev.aertrace.export.TraceEventExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "export", mixinStandardHelpOptions = true,
        header = "Export episodes as Chrome trace-event JSON (Perfetto) or CSV.",
        description = {"Export episodes for other tools: 'chrome' writes Chrome trace-event JSON that ui.perfetto.dev and chrome://tracing open (phases as slices, AER events and all-ones reads as instants, host reset and race windows as async spans); 'csv' writes episodes.csv and spans.csv."},
        footer = {"", "Examples:",
                "  aertrace export --format chrome -o fatal-race.trace.json t.jsonl.gz   # then open it in ui.perfetto.dev",
                "  aertrace export --format csv -o out/ a.jsonl b.jsonl                 # out/episodes.csv, out/spans.csv"})
final class ExportCommand implements Callable<Integer> {
    enum Format { chrome, csv }

    @Parameters(arity = "0..*", paramLabel = "TRACE", description = "Trace files (.jsonl or .jsonl.gz); default: the embedded lab trace.")
    List<String> traces;

    @Option(names = "--format", required = true, description = "${COMPLETION-CANDIDATES}")
    Format format;

    @Option(names = {"-o", "--output"}, paramLabel = "PATH",
            description = "chrome: the JSON file (default stdout); csv: a directory for episodes.csv and spans.csv (default: episodes.csv to stdout).")
    Path output;

    @Override
    public Integer call() throws Exception {
        if (!EpisodeInputs.check("export", traces, System.err)) return EpisodeInputs.USAGE;
        List<String> inputs = traces == null || traces.isEmpty() ? java.util.Collections.singletonList(null) : traces;
        int[] n = {0};
        if (format == Format.chrome) {
            try (Writer w = output == null ? new OutputStreamWriter(System.out, StandardCharsets.UTF_8)
                    : utf8(mkParent(output));
                 TraceEventExport x = new TraceEventExport(w)) {
                for (String t : inputs) EpisodeInputs.read("export", t, count(x, n), System.err);
            }
        } else {
            Writer ep, sp = null;
            if (output == null) {
                ep = new OutputStreamWriter(System.out, StandardCharsets.UTF_8);
            } else {
                Files.createDirectories(output);
                ep = utf8(output.resolve("episodes.csv"));
                sp = utf8(output.resolve("spans.csv"));
            }
            try (CsvExport x = new CsvExport(ep, sp)) {
                for (String t : inputs) EpisodeInputs.read("export", t, count(x, n), System.err);
            }
        }
        System.err.println("aertrace export: " + n[0] + " episodes" + (output == null ? "" : " -> " + output));
        return n[0] > 0 ? 0 : 1;
    }

    /**
     * A UTF-8 file writer that replaces what UTF-8 cannot encode (an unpaired surrogate from a JSON "\\ud800"
     * in a comm) with '?': Files.newBufferedWriter would throw MalformedInputException mid-file instead.
     */
    static Writer utf8(Path p) throws java.io.IOException {
        return new java.io.BufferedWriter(new OutputStreamWriter(Files.newOutputStream(p), StandardCharsets.UTF_8));
    }

    private static Path mkParent(Path p) throws java.io.IOException {
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        return p;
    }

    private static java.util.function.Consumer<dev.aertrace.race.AnalyzedEpisode> count(EpisodeOutput x, int[] n) {
        return x.asConsumer().andThen(a -> n[0]++);
    }
}
