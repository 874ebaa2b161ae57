package dev.aertrace.cli;

import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.report.ReportSink;
import dev.aertrace.report.Totals;

import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * {@code record --listen}: takes agents' streams over TCP. Every connection is its own stream, analyzed by its
 * own pipeline and reported under its own heading, so one silent, slow or garbage client cannot hide another's
 * episodes; a reconnect is simply a new client. The port has no authentication, so it binds loopback unless
 * the user names another address and says so ({@code --listen-remote}).
 *
 * <p>Per client: an idle limit (no byte for that long ends its stream: a named, recorded cut) and a line-length
 * limit (a line longer than that ends it too); at most {@code maxClients} at once, further ones are told why
 * and closed. {@link #stop} (Ctrl-C) closes every stream, which ends each report, then the summary is printed.
 */
final class Listener {
    /** @param wholeReports a client's report is printed only when it ends, with no heading (JSON: one document each) */
    record Limits(int maxClients, long idleMillis, int maxLineBytes, boolean wholeReports) {}

    /** After this many clients have ended, accept no more and return once the open ones end (0: until Ctrl-C). */
    private int stopAfter;
    private final AtomicInteger ended = new AtomicInteger();

    Listener stopAfter(int clients) {
        this.stopAfter = clients;
        return this;
    }

    private final ServerSocket server;
    private final Limits limits;
    private final Analyzer.Options options;
    private final Function<PrintStream, ReportSink> sinks;
    private final PrintStream out, err;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final List<Thread> threads = new ArrayList<>();
    private final List<Totals> totals = new ArrayList<>();
    private final AtomicInteger clients = new AtomicInteger(), active = new AtomicInteger(), refused = new AtomicInteger();
    private volatile boolean stopping;
    /** Which client's block was printed last: a heading is printed when it changes. */
    private int lastPrinted = -1;

    Listener(InetSocketAddress at, Limits limits, Analyzer.Options options, Function<PrintStream, ReportSink> sinks,
             PrintStream out, PrintStream err) throws IOException {
        this.server = new ServerSocket();
        this.server.bind(at);
        this.limits = limits;
        this.options = options;
        this.sinks = sinks;
        this.out = out;
        this.err = err;
    }

    int port() { return server.getLocalPort(); }

    InetAddress address() { return server.getInetAddress(); }

    /** Accepts clients until {@link #stop}; then waits for every client's report and returns the exit code. */
    int serve() throws InterruptedException {
        while (!stopping) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (stopping) break;
                err.println("aertrace record: accept failed: " + e.getMessage());
                continue;
            }
            int id = clients.incrementAndGet();
            if (active.get() >= limits.maxClients()) {
                refused.incrementAndGet();
                err.println("aertrace record: client " + id + " from " + s.getRemoteSocketAddress() + " refused: "
                        + limits.maxClients() + " clients already connected (--max-clients)");
                try (s) {
                    s.getOutputStream().write(("aertrace: refused, " + limits.maxClients() + " clients already connected\n")
                            .getBytes(StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // the client is gone already: nothing more to tell it
                }
                continue;
            }
            active.incrementAndGet();
            open.add(s);
            Thread t = new Thread(() -> client(id, s), "aertrace-client-" + id);
            t.setDaemon(true);
            synchronized (threads) { threads.add(t); }
            t.start();
        }
        List<Thread> all;
        synchronized (threads) { all = new ArrayList<>(threads); }
        for (Thread t : all) t.join();
        return summary();
    }

    /** Ctrl-C: no new clients; every open stream is ended, so each report finishes with what it received. */
    void stop() {
        stopAccepting();
        for (Socket s : open) {
            try {
                s.shutdownInput();
            } catch (IOException ignored) {
                // already closed by its client
            }
        }
    }

    private void stopAccepting() {
        stopping = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    private void client(int id, Socket s) {
        String who = "client " + id + " (" + s.getRemoteSocketAddress() + ")";
        Block block = new Block(id, who);
        PrintStream report = new PrintStream(block, false, StandardCharsets.UTF_8);
        err.println("aertrace record: " + who + " connected");
        Totals t;
        try (s) {
            s.setSoTimeout(250); // quiet periods surface as timeouts: the reader advances time then
            Guard in = new Guard(s.getInputStream(), limits);
            Run run = new Run(options, sinks.apply(report));
            // The remote clock is mapped through the header's mono_ns (see TraceReader.Live).
            run.input("agent@" + s.getRemoteSocketAddress(), in,
                    new dev.aertrace.ingest.TraceReader.Live(System::nanoTime, () -> false));
            run.finish();
            report.flush();
            block.end();
            t = run.totals;
            err.println("aertrace record: " + who + " closed after " + in.bytes + " bytes"
                    + (in.why != null ? " (" + in.why + ")" : ""));
        } catch (IOException | RuntimeException e) {
            // one client's failure is reported and counted; the others go on
            err.println("aertrace record: " + who + ": " + e);
            t = new Totals();
            t.inputError = true;
        } finally {
            open.remove(s);
            active.decrementAndGet();
        }
        synchronized (totals) { totals.add(t); }
        if (ended.incrementAndGet() == stopAfter) stopAccepting();
    }

    private int summary() {
        Totals all = new Totals();
        synchronized (totals) {
            for (Totals t : totals) {
                all.episodes += t.episodes;
                all.events += t.events;
                t.outcomes.forEach((k, v) -> all.outcomes.merge(k, v, Long::sum));
                t.verdicts.forEach((k, v) -> all.verdicts.merge(k, v, Long::sum));
                all.inputError |= t.inputError;
                all.inputGaps |= t.inputGaps;
            }
        }
        synchronized (out) {
            out.println("== listener summary: " + clients.get() + " client" + (clients.get() == 1 ? "" : "s")
                    + (refused.get() > 0 ? " (" + refused.get() + " refused)" : "") + ", " + all.events + " events, "
                    + all.episodes + " episode" + (all.episodes == 1 ? "" : "s") + "; exit " + all.exitCode());
            out.flush();
        }
        return all.exitCode();
    }

    /**
     * One client's report: buffered, and written to the shared output whole at each flush (the reports flush
     * after each episode), under a heading naming the client, so concurrent reports never interleave mid-line.
     */
    private final class Block extends OutputStream {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        private final int id;
        private final String who;

        Block(int id, String who) {
            this.id = id;
            this.who = who;
        }

        @Override public void write(int b) { buf.write(b); }

        @Override public void write(byte[] b, int off, int len) { buf.write(b, off, len); }

        @Override public void flush() {
            if (!limits.wholeReports()) print();
        }

        void end() {
            print();
        }

        private void print() {
            if (buf.size() == 0) return;
            synchronized (out) {
                if (lastPrinted != id && !limits.wholeReports()) out.println("-- " + who);
                lastPrinted = id;
                out.write(buf.toByteArray(), 0, buf.size());
                out.flush();
            }
            buf.reset();
        }
    }

    /** The per-client limits, enforced on the bytes before the trace reader sees them. */
    static final class Guard extends FilterInputStream {
        private final Limits limits;
        private long quietSince = System.nanoTime();
        private long lineBytes;
        long bytes;
        String why;

        Guard(InputStream in, Limits limits) {
            super(in);
            this.limits = limits;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n <= 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = super.read(b, off, len);
            } catch (SocketTimeoutException quiet) {
                if (System.nanoTime() - quietSince > limits.idleMillis() * 1_000_000L) {
                    why = "idle for more than " + limits.idleMillis() / 1000.0 + " s";
                    throw new IOException("client " + why + " (--client-idle): its stream was ended");
                }
                throw quiet;
            }
            if (n > 0) {
                quietSince = System.nanoTime();
                bytes += n;
                for (int i = off; i < off + n; i++) {
                    if (b[i] == '\n') lineBytes = 0;
                    else if (++lineBytes > limits.maxLineBytes()) {
                        why = "a line longer than " + limits.maxLineBytes() + " bytes";
                        throw new IOException("client sent " + why + " (--max-line-bytes): its stream was ended");
                    }
                }
            }
            return n;
        }

        @Override
        public int available() throws IOException {
            return super.available();
        }
    }
}
