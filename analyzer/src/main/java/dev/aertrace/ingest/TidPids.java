package dev.aertrace.ingest;

/**
 * The process each recently seen thread belongs to. A thread's tgid never changes (an exec from a non-leader
 * thread gives it the leader's tid, not another pid), so a tid seen with another pid is either a damaged line or
 * the tid reused by a new task. Reuse needs the kernel's cyclic pid allocator to wrap all the way round: with the
 * smallest default pid_max (32768) that is over 32,000 forks, so within {@link #WINDOW_NS} of the tid's last
 * sighting it is taken as damage (a real reuse that fast costs a tentative verdict, never a wrong confident one).
 * The fuzzer found the damage: a user read's pid changed to 1 with its tid kept made a confident
 * access-during-reset name "pid 1" (long run, seed 304 mutant 2844).
 *
 * <p>Bounded and O(1): a direct-mapped table of {@link #SLOTS} threads; a tid that collides with another replaces
 * it (only that thread's next check is lost, never a false one: a check compares one tid with itself).
 */
final class TidPids {
    static final long WINDOW_NS = 1_000_000_000L;
    static final int SLOTS = 4096;

    private final int[] tids = new int[SLOTS], pids = new int[SLOTS];
    private final long[] seen = new long[SLOTS], lines = new long[SLOTS];
    /** Slot holds a thread (tid 0, the idle task, is never kept). */
    private final boolean[] used = new boolean[SLOTS];
    /** Of the last conflict: when and on which line the thread was last seen with its other pid. */
    private long otherTs, otherLine;
    private int otherPid;

    private static int slot(int tid) { return (tid * 0x9E3779B1) >>> 20; } // 12 bits: SLOTS

    /**
     * Checks a line of {@code tid} in process {@code pid} at {@code ts}: true when the thread was seen with another
     * pid within the window (then {@link #otherPid()} etc. say where, and the table keeps the older sighting);
     * otherwise records this sighting.
     */
    boolean conflicts(int pid, int tid, long ts, long line) {
        if (tid == 0) return false; // the idle task of every cpu: pid 0 too (Plausible checks that)
        int i = slot(tid);
        if (used[i] && tids[i] == tid && pids[i] != pid && Math.abs(ts - seen[i]) <= WINDOW_NS) {
            otherPid = pids[i];
            otherTs = seen[i];
            otherLine = lines[i];
            return true;
        }
        used[i] = true;
        tids[i] = tid;
        pids[i] = pid;
        seen[i] = ts;
        lines[i] = line;
        return false;
    }

    int otherPid() { return otherPid; }

    long otherTs() { return otherTs; }

    long otherLine() { return otherLine; }

    /** A new trace segment: another boot's pids (or another agent run's) are unrelated. */
    void clear() { java.util.Arrays.fill(used, false); }
}
