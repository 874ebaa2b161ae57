package dev.aertrace.timeline;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import dev.aertrace.ingest.Event;

/** Open enters per thread id, without boxing the tid on every lookup (this runs for every event). */
final class TidMap {
    private int[] keys = new int[64];
    private ArrayDeque<Event>[] vals = newArray(64);
    private boolean[] used = new boolean[64];
    private int size;

    @SuppressWarnings("unchecked")
    private static ArrayDeque<Event>[] newArray(int n) { return new ArrayDeque[n]; }

    private int slot(int tid) {
        int mask = keys.length - 1;
        int i = (tid * 0x9E3779B9) >>> 7 & mask;
        while (used[i] && keys[i] != tid) i = (i + 1) & mask;
        return i;
    }

    ArrayDeque<Event> get(int tid) {
        int i = slot(tid);
        return used[i] ? vals[i] : null;
    }

    ArrayDeque<Event> getOrCreate(int tid) {
        int i = slot(tid);
        if (used[i]) return vals[i];
        if ((size + 1) * 2 > keys.length) {
            grow();
            i = slot(tid);
        }
        used[i] = true;
        keys[i] = tid;
        ArrayDeque<Event> d = spare;
        if (d != null) spare = null;
        else d = new ArrayDeque<>(4);
        vals[i] = d;
        size++;
        return d;
    }

    /**
     * The last stack removed empty, for the next thread: a user's read empties its thread's stack at every exit
     * and opens it again at the next enter, and a new deque per access was most of the pairing's allocation.
     */
    private ArrayDeque<Event> spare;

    /** Removes by re-inserting the rest of the probe run (linear probing has no tombstones here). */
    void remove(int tid) {
        int i = slot(tid);
        if (!used[i]) return;
        if (vals[i].isEmpty()) spare = vals[i];
        used[i] = false;
        vals[i] = null;
        size--;
        int mask = keys.length - 1;
        for (int j = (i + 1) & mask; used[j]; j = (j + 1) & mask) {
            int k = keys[j];
            ArrayDeque<Event> v = vals[j];
            used[j] = false;
            vals[j] = null;
            int n = slot(k);
            used[n] = true;
            keys[n] = k;
            vals[n] = v;
        }
    }

    int size() { return size; }

    private int hand;

    /** Removes some thread's stack (a clock hand over the table: amortised O(1)) and returns it; null if empty. */
    ArrayDeque<Event> evictOne() {
        if (size == 0) return null;
        int mask = keys.length - 1;
        while (!used[hand & mask]) hand++;
        int tid = keys[hand & mask];
        ArrayDeque<Event> v = vals[hand & mask];
        hand++;
        remove(tid);
        return v;
    }

    List<ArrayDeque<Event>> values() {
        List<ArrayDeque<Event>> out = new ArrayList<>(size);
        for (int i = 0; i < keys.length; i++) if (used[i]) out.add(vals[i]);
        return out;
    }

    void clear() {
        java.util.Arrays.fill(used, false);
        java.util.Arrays.fill(vals, null);
        size = 0;
    }

    private void grow() {
        int[] ok = keys;
        ArrayDeque<Event>[] ov = vals;
        boolean[] ou = used;
        keys = new int[ok.length * 2];
        vals = newArray(ok.length * 2);
        used = new boolean[ok.length * 2];
        for (int i = 0; i < ok.length; i++) {
            if (!ou[i]) continue;
            int n = slot(ok[i]);
            used[n] = true;
            keys[n] = ok[i];
            vals[n] = ov[i];
        }
    }
}
