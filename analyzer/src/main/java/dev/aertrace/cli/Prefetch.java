package dev.aertrace.cli;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The inputs of an evidence command ({@code compare}, {@code chart}) read by up to {@code jobs} threads, handed
 * out in command-line order with what reading each printed on stderr, so the output is the same bytes as reading
 * them one by one. At most 2 · jobs inputs are read ahead of the one handed out.
 */
final class Prefetch implements AutoCloseable {
    /** One input's episodes, what ingest saw, and the problems reading it printed. */
    record Read(List<AnalyzedEpisode> episodes, SourceReport report, String err) {}

    private final String command;
    private final List<String> inputs;
    private final int jobs;
    private final ExecutorService pool;
    private final List<Future<Read>> ahead = new ArrayList<>();
    private int submitted;

    Prefetch(String command, List<String> inputs, int jobs) {
        this.command = command;
        this.inputs = inputs;
        this.jobs = Math.max(1, jobs);
        for (int i = 0; i < inputs.size(); i++) ahead.add(null);
        this.pool = this.jobs > 1 && inputs.size() > 1 ? Executors.newFixedThreadPool(Math.min(this.jobs, inputs.size()), r -> {
            Thread t = new Thread(r, "aertrace-input");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    /** Input {@code i} (in order, each once): read here, or waited for; its stderr text printed to {@code err} first. */
    Read get(int i, PrintStream err) throws IOException {
        Read r;
        if (pool == null) r = read(inputs.get(i));
        else {
            while (submitted < inputs.size() && submitted < i + 2 * jobs) {
                String t = inputs.get(submitted);
                ahead.set(submitted++, pool.submit(() -> read(t)));
            }
            Future<Read> f = ahead.set(i, null);
            try {
                r = f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof IOException io) throw io;
                if (c instanceof RuntimeException re) throw re;
                if (c instanceof Error x) throw x;
                throw new IllegalStateException(c);
            }
        }
        err.print(r.err());
        err.flush();
        return r;
    }

    private Read read(String trace) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport rep;
        try (PrintStream e = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            rep = EpisodeInputs.read(command, trace, eps::add, e);
        }
        return new Read(eps, rep, buf.toString(StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
