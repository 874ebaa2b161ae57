package dev.aertrace.export;

import dev.aertrace.lanes.EpisodeLanes;

import dev.aertrace.pci.Pci;
import dev.aertrace.report.EpisodeOutput;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Phase;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Episodes and their spans as CSV (RFC 4180 via commons-csv) for spreadsheets and pandas.
 * Times are ns; {@code *_offset_ns} are relative to the episode start so rows of different traces line up.
 * Columns are stable: add at the end only.
 */
public final class CsvExport implements EpisodeOutput {
    public static final String[] EPISODE_COLUMNS = {"source", "episode", "host", "kernel", "device", "severity",
            "aer_status", "bridge", "affected", "start_ns", "end_ns", "recovery_ns", "reset_ns", "result", "outcome",
            "verdicts", "accesses", "accesses_during_reset", "gaps", "started_mid_recovery", "ended_mid_recovery"};
    public static final String[] SPAN_COLUMNS = {"source", "episode", "kernel", "lane", "kind", "name", "dev",
            "start_offset_ns", "end_offset_ns", "duration_ns", "open", "detail"};

    private final CSVPrinter episodes;
    private final CSVPrinter spans;

    /** Either writer may be null to skip that file. */
    public CsvExport(Writer episodesOut, Writer spansOut) throws IOException {
        episodes = episodesOut == null ? null
                : new CSVPrinter(episodesOut, CSVFormat.RFC4180.builder().setHeader(EPISODE_COLUMNS).get());
        spans = spansOut == null ? null
                : new CSVPrinter(spansOut, CSVFormat.RFC4180.builder().setHeader(SPAN_COLUMNS).get());
    }

    @Override
    public void episode(AnalyzedEpisode a) throws IOException {
        Episode e = a.episode();
        if (episodes != null) {
            Long rec = e.recoveryStart() != null && e.recoveryEnd() != null ? e.recoveryEnd() - e.recoveryStart() : null;
            Long reset = null;
            for (HostReset r : e.recoveryResets()) if (r.end() != null) reset = (reset == null ? 0 : reset) + r.end() - r.start();
            TreeSet<String> kinds = new TreeSet<>();
            for (Verdict v : a.verdicts()) kinds.add(v.kind().id);
            long during = e.accesses().stream().filter(x -> e.recoveryResets().stream()
                    .anyMatch(r -> x.overlaps(r.start(), r.end()))).count();
            episodes.printRecord(e.source(), e.id(), e.host(), e.kernel(), e.device(),
                    Pci.severity(e.severity()), e.status() == null ? null : String.format("0x%08x", e.status()),
                    e.bridge(), String.join(" ", e.affected()), e.start(), e.end(), rec, reset,
                    e.result() == null ? null : Pci.ers(e.result()), a.outcome().id(), String.join(" ", kinds),
                    e.accesses().size(), during, e.gaps().size(), e.startedMidRecovery(), e.endedMidRecovery());
        }
        if (spans != null) {
            long t0 = e.start();
            for (Phase p : e.phases()) {
                row(e, "recovery", "phase", p.kind().name().toLowerCase(), p.dev(), p.start() - t0,
                        p.end() == null ? null : p.end() - t0, p.detail());
            }
            for (CallbackCall c : e.callbacks()) {
                row(e, "callbacks " + c.dev(), "callback", c.cb().wire, c.dev(), c.start() - t0,
                        c.end() == null ? null : c.end() - t0,
                        (c.driver() == null ? "" : c.driver()) + (c.result() == null ? "" : " vote " + Pci.ers(c.result())));
            }
            for (HostReset r : e.resets()) {
                row(e, "host reset " + r.bridge(), "host-reset", r.fn(), r.bridge(), r.start() - t0,
                        r.end() == null ? null : r.end() - t0, "depth " + r.depth() + (r.byRecovery() ? ", by recovery" : ", other thread"));
            }
            List<Access> xs = new ArrayList<>(e.accesses());
            for (Access x : xs) {
                row(e, x.comm() + " " + x.pid() + "/" + x.tid(), "user-" + x.kind().name().toLowerCase().replace('_', '-'),
                        EpisodeLanes.accessName(x), x.dev(), x.start() - t0, x.end() == null ? null : x.end() - t0,
                        x.ret() == null ? null : "ret " + x.ret());
            }
        }
    }

    private void row(Episode e, String lane, String kind, String name, String dev, long start, Long end, String detail)
            throws IOException {
        spans.printRecord(e.source(), e.id(), e.kernel(), lane, kind, name, dev, start, end,
                end == null ? null : end - start, end == null, detail);
    }

    @Override
    public void close() throws IOException {
        if (episodes != null) episodes.close(true);
        if (spans != null) spans.close(true);
    }
}
