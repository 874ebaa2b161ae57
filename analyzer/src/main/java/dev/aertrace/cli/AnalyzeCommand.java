package dev.aertrace.cli;

import dev.aertrace.report.Totals;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = {"Rebuild one timeline per AER error and report races with the vfio user.",
                "Without TRACE, analyzes the real lab trace shipped in the jar (kernel 6.1, fatal error while the vfio user reads config space)."},
        footer = {"", "Examples:",
                "  aertrace analyze                          # the shipped 6.1 fatal-race trace",
                "  aertrace analyze host.jsonl.gz            # a trace (plain or .gz)",
                "  aertrace analyze a.jsonl b.jsonl.gz       # several hosts/boots",
                "  agent -o - | aertrace analyze -           # stdin",
                "  aertrace analyze --format json t.jsonl    # report for scripts",
                "  aertrace analyze host.dmesg vm1.log       # post-mortem: kernel log + QEMU log",
                "", "Exit codes: 0 clean, 1 race(s) found, 2 usage or unreadable input,",
                "3 inconclusive (events lost or unreadable inside an error's window),",
                "4 a recovery failed (no race). Report JSON: docs/report-json.md."})
final class AnalyzeCommand implements Callable<Integer> {
    static final String EMBEDDED_LAB = "/dev/aertrace/lab/6.1/fatal-race.jsonl.gz";
    static final String EMBEDDED_SAMPLE = "/dev/aertrace/sample/fatal-race.jsonl";

    @Spec CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "TRACE", description = "Trace files (.jsonl or .jsonl.gz), kernel logs (dmesg, journalctl -k, console) or QEMU/libvirt VM logs, told apart by content; '-' reads stdin.")
    List<String> traces;

    @Mixin AnalysisOptions opts;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write the report to FILE instead of stdout.")
    Path output;

    @Option(names = {"-j", "--jobs"}, paramLabel = "N", description = "Trace files analysed at once (default: the number of CPUs); the output is the same for any N.")
    int jobs = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() throws IOException {
        opts.validate(spec);
        if (jobs < 1) throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--jobs must be >= 1");
        if (!EpisodeInputs.check("analyze", traces, System.err)) return Totals.USAGE;
        PrintStream out = output == null ? System.out : new PrintStream(Files.newOutputStream(output), false, "UTF-8");
        try {
            Run run = new Run(opts.analyzerOptions(), opts.sink(out));
            if (traces == null || traces.isEmpty()) {
                String res = EpisodeInputs.embeddedResource();
                System.err.println("aertrace: no TRACE given; analyzing the embedded " + (res.equals(EMBEDDED_LAB)
                        ? "real lab trace testdata/lab/6.1/fatal-race.jsonl.gz" : "hand-written sample trace")
                        + " (see aertrace analyze --help)");
                run.resource(EpisodeInputs.embeddedName(res), res);
            } else {
                run.prescan(traces);
                try {
                    run.files(traces, jobs);
                } catch (java.nio.file.NoSuchFileException e) {
                    System.err.println("aertrace analyze: cannot read " + e.getFile() + ": " + e.getReason());
                    return Totals.USAGE;
                }
            }
            return run.finish();
        } finally {
            out.flush();
            if (output != null) out.close();
        }
    }
}
