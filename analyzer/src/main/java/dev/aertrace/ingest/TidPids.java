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
 * <p>Its name too: a thread renames itself only by exec or prctl(PR_SET_NAME), never inside a syscall, and no
 * committed trace (4.4 M events: the lab's and the field traces) shows a tid with two names within a second. So a
 * tid seen with another {@code comm} within the window is also a damaged line. The fuzzer found that too: one bit
 * flipped in a user ioctl's comm made a confident double-reset name "vfio-wser (pid 1655)" (long run, seed 503
 * mutant 3339; seed 504 mutant 4320 likewise). A rename by another thread through /proc/PID/task/TID/comm inside
 * the window costs a tentative verdict, never a wrong confident one.
 *
 * <p>Bounded and O(1): a direct-mapped table of {@link #SLOTS} threads; a tid that collides with another replaces
 * it (only that thread's next check is lost, never a false one: a check compares one tid with itself).
 */
final class TidPids {
    static final long WINDOW_NS = 1_000_000_000L;
    static final int SLOTS = 4096;

    private final int[] tids = new int[SLOTS], pids = new int[SLOTS];
    private final String[] comms = new String[SLOTS];
    private final long[] seen = new long[SLOTS], lines = new long[SLOTS];
    /** Slot holds a thread (tid 0, the idle task, is never kept). */
    private final boolean[] used = new boolean[SLOTS];
    /** Of the last conflict: when and on which line the thread was last seen with its other pid. */
    private long otherTs, otherLine;
    private int otherPid;
    private String otherComm;

    private static int slot(int tid) { return (tid * 0x9E3779B1) >>> 20; } // 12 bits: SLOTS

    /**
     * Checks a line of {@code tid} in process {@code pid} named {@code comm} (null when the line has none) at
     * {@code ts}: true when the thread was seen with another pid or name within the window (then {@link #otherPid()}
     * etc. say where, and the table keeps the older sighting); otherwise records this sighting.
     */
    boolean conflicts(int pid, int tid, String comm, long ts, long line) {
        if (tid == 0) return false; // the idle task of every cpu: pid 0 too (Plausible checks that)
        int i = slot(tid);
        if (used[i] && tids[i] == tid && Math.abs(ts - seen[i]) <= WINDOW_NS
                && (pids[i] != pid || comm != null && comms[i] != null && comm != comms[i] && !comm.equals(comms[i]))) {
            otherPid = pids[i];
            otherComm = comms[i];
            otherTs = seen[i];
            otherLine = lines[i];
            return true;
        }
        // A line without comm keeps the thread's known name; another thread in the slot starts afresh.
        if (comm != null || !(used[i] && tids[i] == tid)) comms[i] = comm;
        used[i] = true;
        tids[i] = tid;
        pids[i] = pid;
        seen[i] = ts;
        lines[i] = line;
        return false;
    }

    int otherPid() { return otherPid; }

    String otherComm() { return otherComm; }

    long otherTs() { return otherTs; }

    long otherLine() { return otherLine; }

    /** A new trace segment: another boot's pids (or another agent run's) are unrelated. */
    void clear() { java.util.Arrays.fill(used, false); }
}
