package dev.aertrace.cli;

import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.report.TextReport;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code record --listen} on 127.0.0.1 with the real 6.1 fatal-race lab trace sent by 50 clients at once, next
 * to a silent client, a garbage client, a client sending one endless line, and a client that drops mid-trace
 * and reconnects: every good client's race episode must be reported under its own heading.
 */
class ListenerTest {
    static byte[] labTrace() throws Exception {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Path.of("../testdata/lab/6.1/fatal-race.jsonl.gz")))) {
            return in.readAllBytes();
        }
    }

    static void send(int port, byte[] data, int from, int to) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port); OutputStream o = s.getOutputStream()) {
            o.write(data, from, to - from);
            o.flush();
        }
    }

    @Test
    void fiftyClientsSilentGarbageAndReconnect() throws Exception {
        byte[] trace = labTrace();
        ByteArrayOutputStream outBytes = new ByteArrayOutputStream(), errBytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8), err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
        Listener l = new Listener(new InetSocketAddress("127.0.0.1", 0), new Listener.Limits(64, 3_000, 64 * 1024, false),
                Analyzer.Options.defaults(), o -> new TextReport(o, 40), out, err);
        assertTrue(l.address().isLoopbackAddress());
        int port = l.port();
        int[] code = {-1};
        Thread server = new Thread(() -> {
            try { code[0] = l.serve(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        });
        server.start();

        // the silent and the garbage clients connect first: under the old listener they locked everyone out
        Socket silent = new Socket("127.0.0.1", port);
        byte[] junk = new byte[200_000];
        new Random(7).nextBytes(junk);
        send(port, junk, 0, junk.length);
        byte[] longLine = new byte[100_000];
        java.util.Arrays.fill(longLine, (byte) 'x');
        send(port, longLine, 0, longLine.length);

        int good = 50;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> clients = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < good; i++) {
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    send(port, trace, 0, trace.length);
                } catch (Throwable e) { failures.add(e); }
            });
            t.start();
            clients.add(t);
        }
        go.countDown();
        // a reconnect: the first connection drops in the middle of the trace, the second sends all of it
        send(port, trace, 0, trace.length / 2);
        send(port, trace, 0, trace.length);
        for (Thread t : clients) t.join();
        assertEquals(List.of(), failures);

        // wait until every client but the silent one has been reported closed
        long deadline = System.nanoTime() + 120_000_000_000L;
        int expectedClosed = 2 + good + 2;
        while (count(errBytes, "closed after") < expectedClosed && System.nanoTime() < deadline) Thread.sleep(100);
        // the silent client is ended by its idle limit (3 s here), not by Ctrl-C
        while (!errBytes.toString(StandardCharsets.UTF_8).contains("idle for more than") && System.nanoTime() < deadline) Thread.sleep(100);
        l.stop(); // what Ctrl-C does
        server.join(60_000);
        silent.close();

        String o = outBytes.toString(StandardCharsets.UTF_8), e = errBytes.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("idle for more than 3.0 s"), e);
        assertTrue(e.contains("a line longer than 65536 bytes"), e);
        // one RACE episode per complete trace: the 50 clients and the reconnected one
        Matcher m = Pattern.compile("(?m)^== #\\d+ RACE ").matcher(o);
        int races = 0;
        while (m.find()) races++;
        assertTrue(races >= good + 1, races + " race episodes reported for " + (good + 1) + " complete traces:\n" + o.substring(0, Math.min(4000, o.length())));
        int headings = count(outBytes, "-- client ");
        assertTrue(headings >= good + 1, "each client's report under its heading: " + headings);
        assertTrue(o.contains("== listener summary: " + (good + 5) + " clients"), o.substring(Math.max(0, o.length() - 2000)));
        assertEquals(1, code[0], "a race was found");
    }

    @Test
    void refusesBeyondMaxClients() throws Exception {
        ByteArrayOutputStream outBytes = new ByteArrayOutputStream(), errBytes = new ByteArrayOutputStream();
        Listener l = new Listener(new InetSocketAddress("127.0.0.1", 0), new Listener.Limits(1, 60_000, 1 << 20, false),
                Analyzer.Options.defaults(), o -> new TextReport(o, 40),
                new PrintStream(outBytes, true, StandardCharsets.UTF_8), new PrintStream(errBytes, true, StandardCharsets.UTF_8));
        Thread server = new Thread(() -> { try { l.serve(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); } });
        server.start();
        try (Socket first = new Socket("127.0.0.1", l.port())) {
            while (!errBytes.toString(StandardCharsets.UTF_8).contains("client 1")) Thread.sleep(20);
            try (Socket second = new Socket("127.0.0.1", l.port())) {
                String said = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(said.startsWith("aertrace: refused, 1 clients already connected"), said);
            }
        }
        l.stop();
        server.join(30_000);
        assertTrue(errBytes.toString(StandardCharsets.UTF_8).contains("refused"));
        assertTrue(outBytes.toString(StandardCharsets.UTF_8).contains("(1 refused)"));
    }

    @Test
    void nonLoopbackNeedsAFlag() {
        CliTest.Out r = CliTest.run("record", "--listen", "0.0.0.0:0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--listen-remote"), r.err());
    }

    private static int count(ByteArrayOutputStream b, String what) {
        String s;
        synchronized (b) { s = b.toString(StandardCharsets.UTF_8); }
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }
}
