package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.TraceGap;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Enter/exit pairing per thread: the open enters of each thread, and what an enter without its exit or an exit
 * without its enter leaves behind (an issue, a ledger gap, a gap in the episodes of its thread or device, and for
 * a user operation an access that ends where its thread was seen next). Bounded: {@link TimelineBuilder#MAX_THREADS}
 * threads with open enters, {@link TimelineBuilder#MAX_STACK} open enters per thread.
 */
final class Pairing {
    private final BuildState st;
    /** Where an access a pairing ends (or gives up on) goes: the user side's attribution. */
    private final Consumer<Access> attribute;
    private final TidMap stacks = new TidMap();
    /** Start times of the open user operations per device: hasOpenAccess without walking every thread. */
    private final Map<String, OpenStarts> openUser = new HashMap<>();
    /**
     * Enters dropped at the thread bound: like missing exits, but all of a segment's share one ledger gap that
     * widens (tens of thousands of gaps, each met by every later episode, made a 2.4 GB report).
     */
    private GapLedger.Entry evictions;

    Pairing(BuildState st, Consumer<Access> attribute) {
        this.st = st;
        this.attribute = attribute;
    }

    void clear() {
        stacks.clear();
        openUser.clear();
    }

    /** Host resets open on {@code tid}: the nesting depth of the next one. */
    int resetDepth(int tid) {
        ArrayDeque<Event> s = stacks.get(tid);
        int depth = 0;
        if (s != null) for (Event x : s) if (x instanceof Event.ResetEnter) depth++;
        return depth;
    }

    /** No enter is open on {@code tid}. */
    boolean idle(int tid) {
        ArrayDeque<Event> s = stacks.get(tid);
        return s == null || s.isEmpty();
    }

    boolean insideVfioHandler(int tid) {
        ArrayDeque<Event> s = stacks.get(tid);
        if (s != null) for (Event e : s) if (e instanceof Event.VfioErrDetectedEnter) return true;
        return false;
    }

    void push(Event e) {
        if (stacks.size() >= TimelineBuilder.MAX_THREADS && stacks.get(e.tid()) == null) {
            ArrayDeque<Event> evicted = stacks.evictOne();
            st.bound(e.line(), "more than " + TimelineBuilder.MAX_THREADS + " threads with open enters: one thread's enters dropped");
            if (evicted != null) for (Event o : evicted) {
                untrack(o);
                evicted(o, e);
            }
        }
        ArrayDeque<Event> s = stacks.getOrCreate(e.tid());
        // A thread cannot be inside the same function twice here (no recursion in these paths), nor in two user
        // operations at once: the older enter lost its exit.
        for (Iterator<Event> it = s.iterator(); it.hasNext(); ) {
            Event o = it.next();
            if ((o.type().equals(e.type()) && Calls.sameKey(o, e)) || (Calls.userOp(o) && Calls.userOp(e))) {
                it.remove();
                untrack(o);
                missingExit(o, e.ts(), e.line());
                break;
            }
        }
        s.push(e);
        track(e);
        if (s.size() > TimelineBuilder.MAX_STACK) {
            Event o = s.removeLast();
            untrack(o);
            st.bound(e.line(), "more than " + TimelineBuilder.MAX_STACK + " open enters on tid " + e.tid());
            missingExit(o, e.ts(), e.line());
        }
    }

    /**
     * Pops the enter an exit closes: the same type and identity (keyOf), searched from the innermost open call;
     * calls above it lost their exits. A user operation pairs only with the innermost open user operation, and
     * never across a gap that could hide other events of its thread (a lost or late record, an unreadable line):
     * two reads of the same register on either side of a loss would otherwise make one read that never was.
     */
    Event pop(Event exit, String enterType) {
        ArrayDeque<Event> s = stacks.get(exit.tid());
        boolean user = exit instanceof Event.RwExit || exit instanceof Event.IoctlExit;
        if (s != null) {
            for (Event o : s) {
                String type = o.type(); // a type is a literal: the same instance, but equals is a call under C2's limits
                boolean same = (type == enterType || type.equals(enterType)) && Calls.sameKey(o, exit);
                if (user && Calls.userOp(o) && !same) {
                    break; // the open user operation is another one: it lost its exit, this exit lost its enter
                }
                if (!same) continue;
                while (s.peek() != o) {
                    Event lost = s.pop();
                    untrack(lost);
                    missingExit(lost, exit.ts(), exit.line());
                }
                untrack(s.pop());
                if (s.isEmpty()) stacks.remove(exit.tid());
                if (!sameTask(o, exit)) {
                    missingExit(o, exit.ts(), exit.line());
                    break;
                }
                if ((user || exit instanceof Event.UserResetExit) && acrossGap(o, exit)) {
                    missingExit(o, exit.ts(), exit.line(), o.type() + " on tid " + o.tid() + " not paired with its exit at line "
                            + exit.line() + KEPT_APART, true);
                    unmatchedExit(exit, exit.type() + " on tid " + exit.tid() + " not paired with its enter at line " + o.line()
                            + KEPT_APART, " unpaired: a gap after its enter");
                    refused = exit;
                    return null;
                }
                return o;
            }
        }
        unmatchedExit(exit, exit.type() + " on tid " + exit.tid() + " without " + enterType);
        return null;
    }

    private static final String KEPT_APART = ": a gap between them could hide other calls of the thread";

    /** The last exit {@link #pop} kept apart from its enter because of a gap between them. */
    private Event refused;

    /** {@link #pop} found {@code exit}'s enter but kept them apart: a gap between them could hide other calls. */
    boolean refused(Event exit) { return refused == exit; }

    /**
     * An enter and its exit are one task inside one call: the same process and the same name (a rename by exec or
     * prctl cannot happen inside the call). Otherwise one of the two lines is damaged, and the pair is not a call:
     * a user read's pid made 1 on its enter, 1.1 s before its exit (beyond the reader's 1 s window for a thread's
     * pid), was named as "vfio-user (pid 1)" held 1126 ms by a confident verdict (long run, seed 602 mutant 38437).
     */
    private static boolean sameTask(Event enter, Event exit) {
        Event.Common x = Event.of(enter), y = Event.of(exit);
        if (x.pid() != y.pid()) return false;
        String a = x.comm(), b = y.comm();
        return a == b || a == null || b == null || a.equals(b);
    }

    /** A gap that could hide events of the pair's thread lies between its enter and exit (any CPU: threads migrate). */
    private boolean acrossGap(Event enter, Event exit) {
        // A gap that ends exactly at the enter or starts at the exit hides nothing in between.
        return st.ledger.holeBetween(enter.ts(), exit.ts());
    }

    private void unmatchedExit(Event exit, String detail) {
        unmatchedExit(exit, detail, " without its enter");
    }

    private void unmatchedExit(Event exit, String detail, String gapText) {
        st.diag.issue(Issue.Kind.UNMATCHED_EXIT, exit.line(), detail);
        long[] last = st.lastByTid.get(exit.tid());
        long from = last != null && last[0] <= exit.ts() ? last[0] : Long.MIN_VALUE;
        // Inside a loss (or late/unreadable stretch) the loss already is the gap: one entry, not one per exit.
        // (Covering, not meeting: a late enter at ts -1 met the span, and the exit alone made a confident race.)
        if (!st.ledger.holeCovering(from, exit.ts())) st.ledger.add(TraceGap.Kind.UNMATCHED_EXIT, exit.common().cpu(), from, exit.ts(), exit.line(),
                last != null ? last[1] : 0, exit.line(), 0, exit.type() + " on tid " + exit.tid() + gapText);
        st.gapToEpisodes(new Event.Gap(exit.common(), Event.GapKind.INVALID_EVENT, exit.type() + gapText), exit.tid(), exit.dev());
    }

    private void evicted(Event enter, Event by) {
        st.diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), enter.type() + " on tid " + enter.tid() + " dropped at the thread bound");
        long to = Math.max(enter.ts(), by.ts());
        if (evictions == null || !st.ledger.holds(evictions)) {
            evictions = st.ledger.add(TraceGap.Kind.CAP, null, enter.ts(), to, by.line(), enter.line(), by.line(), 1,
                    "enters of threads dropped at the bound of " + TimelineBuilder.MAX_THREADS + " threads with open enters");
        } else {
            evictions.widen(enter.ts(), to, by.line());
        }
        // No gap event per dropped enter in the episodes: the one widening ledger gap names them all (one event
        // each, listed in every later episode, was 10 KB of report per episode).
        if (Calls.userEnterOp(enter)) attribute.accept(Calls.access(enter, null).lost(to));
    }

    /** An enter whose exit is not in the trace; {@code seenTs}/{@code seenLine}: the event that showed it. */
    private void missingExit(Event enter, long seenTs, long seenLine) {
        missingExit(enter, seenTs, seenLine, enter.type() + " on tid " + enter.tid() + " never exited", false);
    }

    private void missingExit(Event enter, long seenTs, long seenLine, String detail, boolean unpaired) {
        st.diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), detail);
        String gapText = unpaired ? " unpaired: a gap before its exit" : " without its exit";
        if (!st.ledger.holeCovering(enter.ts(), Math.max(enter.ts(), seenTs))) st.ledger.add(TraceGap.Kind.MISSING_EXIT, enter.common().cpu(), enter.ts(), Math.max(enter.ts(), seenTs),
                enter.line(), enter.line(), seenLine, 0, enter.type() + " on tid " + enter.tid() + gapText);
        st.gapToEpisodes(new Event.Gap(enter.common(), Event.GapKind.INVALID_EVENT, enter.type() + gapText), enter.tid(), enter.dev());
        if (enter instanceof Event.RwEnter || enter instanceof Event.IoctlEnter || enter instanceof Event.UserResetEnter)
            attribute.accept(unpaired ? Calls.access(enter, null).lost(seenTs).asUnpaired() : Calls.access(enter, null).lost(seenTs));
    }

    private void track(Event e) {
        if (!Calls.userEnterOp(e) || e.dev() == null) return;
        openUser.computeIfAbsent(e.dev(), k -> new OpenStarts()).add(e.ts());
    }

    private void untrack(Event e) {
        if (!Calls.userEnterOp(e) || e.dev() == null) return;
        OpenStarts m = openUser.get(e.dev());
        if (m == null) return;
        m.remove(e.ts());
        // An emptied device's map stays for its next access (a polling user empties it at every exit), up to a bound.
        if (m.isEmpty() && openUser.size() > MAX_IDLE_DEVICES) openUser.remove(e.dev());
    }

    /** Devices whose empty map of open accesses is kept for reuse before emptied ones are dropped again. */
    static final int MAX_IDLE_DEVICES = 1024;

    /** An access that began inside the window is still open: O(devices of the episode), not O(threads). */
    boolean hasOpenAccess(EpisodeDraft b) {
        for (String d : b.affected) {
            OpenStarts m = openUser.get(d);
            if (m != null && !m.isEmpty() && m.min() <= b.closeAt) return true;
        }
        return false;
    }

    /** The end of a segment: enters still open are reported (a user access with no exit) and forgotten. */
    void atEnd() {
        for (ArrayDeque<Event> s : stacks.values()) {
            for (Event e : s) {
                if (st.footerSeen) st.diag.issue(Issue.Kind.MISSING_EXIT, e.line(), e.type() + " on tid " + e.tid() + " never exited");
                if (!Calls.userEnterOp(e)) continue;
                // Still running at the end, unless a gap after its entry could hold its exit: then where it
                // returned is not known, and the span from its entry on is a gap every verdict counting it meets.
                if (exitMayBeHidden(e))
                    st.ledger.add(TraceGap.Kind.MISSING_EXIT, e.common().cpu(), e.ts(), Long.MAX_VALUE, e.line(), e.line(), 0, 0,
                            e.type() + " on tid " + e.tid() + " without its exit, which a gap after it could hide");
                attribute.accept(Calls.access(e, null));
            }
        }
        clear();
    }

    /**
     * A gap after {@code enter} could hold its exit: a loss, a late or unreadable stretch, or an exit whose enter is
     * missing (with a damaged thread id or identity it may be this enter's own).
     */
    private boolean exitMayBeHidden(Event enter) {
        for (TraceGap g : st.ledger.overlapping(enter.ts(), Long.MAX_VALUE))
            switch (g.kind()) {
                case LOSS, LATE, INPUT, UNMATCHED_EXIT -> { return true; }
                default -> { }
            }
        return false;
    }
}
