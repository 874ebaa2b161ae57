package dev.aertrace.fleet;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of one host stream, handed over by the consumer thread chunk by chunk and read by that stream's
 * pipeline thread through the ordinary {@link InputStream} API the analyzer already takes. {@code pending}
 * (shared by all streams) is what the consumer pauses on, so memory stays bounded when the pipelines fall behind.
 */
final class StreamInput extends InputStream {
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final AtomicLong pending;
    private byte[] cur;
    private int pos;
    private boolean closed;
    private boolean aborted;

    StreamInput(AtomicLong pending) {
        this.pending = pending;
    }

    synchronized void feed(byte[] chunk) {
        if (closed || aborted || chunk.length == 0) return;
        queue.add(chunk);
        pending.addAndGet(chunk.length);
        notifyAll();
    }

    /** End of this stream (footer seen): the reader drains what is queued, then sees EOF. */
    @Override
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** The partition went elsewhere: the reader fails at once and its results are discarded. */
    synchronized void abort() {
        aborted = true;
        long left = (cur == null ? 0 : cur.length - pos);
        for (byte[] b : queue) left += b.length;
        queue.clear();
        cur = null;
        pending.addAndGet(-left);
        notifyAll();
    }

    synchronized boolean drained() {
        return (cur == null || pos == cur.length) && queue.isEmpty();
    }

    @Override
    public synchronized int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public synchronized int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        while (cur == null || pos == cur.length) {
            if (aborted) throw new IOException("stream reassigned");
            if (!queue.isEmpty()) {
                cur = queue.poll();
                pos = 0;
                continue;
            }
            if (closed) return -1;
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
        int n = Math.min(len, cur.length - pos);
        System.arraycopy(cur, pos, b, off, n);
        pos += n;
        pending.addAndGet(-n);
        return n;
    }

    @Override
    public synchronized int available() {
        if (cur != null && pos < cur.length) return cur.length - pos;
        byte[] next = queue.peek();
        return next == null ? 0 : next.length;
    }
}
