package dev.aertrace.cli;

import dev.aertrace.chart.TimelineOutput;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "timeline", mixinStandardHelpOptions = true,
        header = "Print episodes as an 80-column plain-text timeline for mail.",
        description = {"Print each episode as three plain-text lanes (HW | host kernel | user), time flowing down,",
                "at most 80 columns of ASCII, race windows ruled and marked '!': ready to paste into a mail."},
        footer = {"", "Examples:",
                "  aertrace timeline                          # the embedded 6.1 fatal-race lab trace",
                "  aertrace timeline --episode 2 t.jsonl.gz   # one episode"})
final class TimelineCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "TRACE", description = "Trace files (.jsonl or .jsonl.gz); default: the embedded lab trace.")
    List<String> traces;

    @Option(names = "--episode", paramLabel = "N", description = "Only these episode ids (repeatable).")
    Set<Integer> episodes;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "60", description = "At most N rows per episode (default: ${DEFAULT-VALUE}).")
    int rows;

    @Override
    public Integer call() throws Exception {
        if (rows < 1) {
            System.err.println("aertrace timeline: --rows must be >= 1");
            return EpisodeInputs.USAGE;
        }
        if (!EpisodeInputs.check("timeline", traces, System.err)) return EpisodeInputs.USAGE;
        List<String> inputs = traces == null || traces.isEmpty() ? java.util.Collections.singletonList(null) : traces;
        TimelineOutput out = new TimelineOutput(System.out, rows);
        for (String t : inputs) {
            EpisodeInputs.read("timeline", t, a -> {
                if (episodes == null || episodes.contains(a.episode().id())) out.episode(a);
            }, System.err);
        }
        if (out.shown() == 0) System.err.println("aertrace timeline: no episode to show");
        return out.shown() > 0 ? 0 : 1;
    }
}
