package dev.aertrace.timeline;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.TraceFooter;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceListener;

import java.util.function.Consumer;

/**
 * Cuts a time-ordered event stream into {@link Episode}s. Host-side events are tied to a recovery by the thread
 * that runs it ({@link HostSide}); user-side events by device: an access belongs to every open episode whose
 * affected devices include it and whose window it overlaps. Enters and exits pair per thread ({@link Pairing});
 * signs of a lost device open device-loss episodes ({@link DeviceLoss}); episodes close after their settle window
 * with the gaps that meet them ({@link EpisodeCloser}). State kept: open episodes, open enters per thread, and the
 * last COMMAND read per device (the "before" value for state-change verdicts) — nothing that grows with the
 * trace's length.
 */
public final class TimelineBuilder implements TraceListener {

    /** Tunables; all times in ns. */
    public record Options(long settleNs, long preGapNs, long maxHoldNs, int maxEventsPerEpisode) {
        public static Options defaults() {
            return new Options(2_000_000_000L, 100_000_000L, 10_000_000_000L, 100_000);
        }
    }

    /*
     * Bounds (analyzer/README.md "Bounds"): what a hostile or broken input can make the builder hold. Each overflow
     * is a gap (TraceGap.Kind.CAP or a missing exit) in the episodes it touches, so they become tentative, and an
     * issue of kind "bound" in the report.
     */
    /** Episodes open at once; past it the oldest is closed early (a recovery never seen to end holds one). */
    public static final int MAX_OPEN_EPISODES = 256;
    /** Open episodes one access or gap is copied into; the rest record it as elided (CAP). */
    public static final int MAX_COPIES = 16;
    /** Gap events listed per episode (every gap still reaches the episode through the ledger). */
    public static final int MAX_GAPS_PER_EPISODE = 50;
    /** Threads with open enters; past it one thread's enters are dropped as missing exits. */
    public static final int MAX_THREADS = 65_536;
    /** Open enters per thread (nesting deeper than any real call chain). */
    public static final int MAX_STACK = 64;
    /** Devices whose last COMMAND read is remembered. */
    public static final int MAX_DEVICES = 65_536;
    /** Gaps one episode lists; the rest merge into one. */
    public static final int MAX_HOLES = 50;

    private final BuildState st;
    private final Pairing pairing;
    private final EpisodeCloser closer;
    private final HostSide hostSide;
    private final DeviceLoss loss;

    public TimelineBuilder(String source, Options opt, Diagnostics diag, Consumer<Episode> sink) {
        this(source, opt, diag, new GapLedger(), sink);
    }

    public TimelineBuilder(String source, Options opt, Diagnostics diag, GapLedger ledger, Consumer<Episode> sink) {
        st = new BuildState(source, opt, diag, ledger, sink);
        pairing = new Pairing(st, this::attribute);
        closer = new EpisodeCloser(st, pairing);
        hostSide = new HostSide(st, pairing, closer);
        loss = new DeviceLoss(st, closer);
    }

    // ---------------------------------------------------------------- stream

    @Override
    public void header(TraceHeader h) {
        closer.closeAll(); // a new segment (another boot) starts: its clock is unrelated
        pairing.clear();
        st.lastCommandRead.clear();
        st.lastByTid.clear();
        st.ledger.segment(h.line(), true);
        st.lastGapTs = Long.MIN_VALUE;
        st.now = Long.MIN_VALUE;
        st.topo = h.topology();
        st.kernel = h.kernel();
        st.host = h.host();
        st.footerSeen = false;
    }

    @Override
    public void footer(TraceFooter f) {
        st.footerSeen = true;
    }

    @Override
    public void end() {
        closer.closeAll();
    }

    @Override
    public void advance(long ts) {
        // Time passes even when no event for us arrives: windows that ended before the watermark can close.
        if (ts > st.now && ts != Long.MIN_VALUE) {
            st.now = ts;
            closer.closeDue(st.now);
        }
    }

    @Override
    public void event(Event e) {
        long ts = Event.of(e).ts();
        if (ts > st.now) st.now = ts;
        closer.closeDue(st.now);
        dispatch(e);
        if (!(e instanceof Event.Gap || e instanceof Event.Lost)) st.lastByTid.seen(e);
    }

    private void dispatch(Event e) {
        // most frequent first: user reads/writes dominate every trace
        if (e instanceof Event.RwExit) userExit(e);
        else if (e instanceof Event.RwEnter) pairing.push(e);
        else if (e instanceof Event.Gap || e instanceof Event.Lost) gap(e);
        else if (e instanceof Event.AerError a) hostSide.aer(a);
        else if (e instanceof Event.RecoveryEnter r) hostSide.recoveryEnter(r);
        else if (e instanceof Event.RecoveryExit r) hostSide.recoveryExit(r);
        else if (e instanceof Event.CallbackEnter || e instanceof Event.VfioErrDetectedEnter) hostSide.callback(e, true);
        else if (e instanceof Event.CallbackExit || e instanceof Event.VfioErrDetectedExit) hostSide.callback(e, false);
        else if (e instanceof Event.ResetEnter r) hostSide.reset(r);
        else if (e instanceof Event.ResetExit r) hostSide.resetExit(r);
        else if (e instanceof Event.EventfdSignal s) hostSide.signal(s);
        else if (e instanceof Event.CfgLock c) hostSide.cfgLock(c);
        else if (e instanceof Event.IoctlEnter || e instanceof Event.UserResetEnter) pairing.push(e);
        else if (e instanceof Event.IoctlExit || e instanceof Event.UserResetExit) userExit(e);
        else if (e instanceof Event.DeviceGone g) loss.deviceGone(g);
        else if (e instanceof Event.LinkChange l) loss.linkChange(l);
        else if (e instanceof Event.VfioOpen) openClose(e, Access.Kind.OPEN);
        else if (e instanceof Event.VfioClose) openClose(e, Access.Kind.CLOSE);
    }

    /**
     * Holes in the input (unreadable lines, late events) stay visible in the episodes whose window they fall in.
     * A lost line's timestamp is when the agent wrote it, not where the records were lost: losses reach episodes
     * only through the ledger, with their inferred bounds.
     */
    private void gap(Event g) {
        if (g instanceof Event.Lost) return;
        if (g instanceof Event.Gap u && u.kind() == Event.GapKind.UNKNOWN_TYPE) {
            unknownType(u);
            return;
        }
        st.lastGapTs = g.ts();
        st.lastGap = g;
        int copies = 0;
        for (EpisodeDraft b : st.open) {
            if (copies++ < MAX_COPIES) b.addGap(g);
            else b.elideGap(g);
        }
    }

    /**
     * A line of a type this analyzer does not know. EVENTS.md lets a reader ignore it, and outside every episode
     * and call this one does (a newer agent's clean trace still exits 0). Inside an open episode, or while its
     * thread is inside a call, it may be a known event whose type was damaged, and no reader can tell: a gap at its
     * ts, which every verdict whose span holds it meets (fuzz long run, seed 304 mutant 4138).
     */
    private void unknownType(Event.Gap u) {
        if (st.open.isEmpty() && pairing.idle(u.tid())) return;
        st.ledger.add(TraceGap.Kind.UNKNOWN_TYPE, null, u.ts(), u.ts(), u.line(), u.line(), u.line(), 0, u.detail());
        int copies = 0;
        for (EpisodeDraft b : st.open) {
            if (copies++ < MAX_COPIES) b.addGap(u);
            else b.elideGap(u);
        }
    }

    // ---------------------------------------------------------------- user side

    private void userExit(Event x) {
        Event enter = pairing.pop(x, Calls.pairType(x));
        attribute(enter == null && pairing.refused(x) ? Calls.access(null, x).asUnpaired() : Calls.access(enter, x));
    }

    private void openClose(Event e, Access.Kind kind) {
        attribute(new Access(kind, e.dev(), e.common().pid(), e.tid(), e.common().comm(), e.ts(), e.ts(), null, 0, 0,
                null, null, null, e, null));
    }

    /** A user access into every open episode of its device whose window it overlaps (all-ones: a sign of loss). */
    private void attribute(Access a) {
        loss.extendRemoval(a);
        if (Calls.allOnes(a) && a.dev() != null) loss.allOnes(a);
        int copies = 0;
        for (EpisodeDraft b : st.open) {
            if (!b.affected.contains(a.dev())) continue;
            if (!a.overlaps(b.start, b.closeAt == Long.MAX_VALUE ? null : b.closeAt)) continue;
            // Bounded like the event list: a user hammering the device cannot grow one episode without limit, nor
            // can one access be copied into every one of many open episodes (a 1.5 MB trace made a 3.4 GB report).
            if (copies++ >= MAX_COPIES) {
                b.elide(a.start());
                continue;
            }
            if (b.accesses.size() < st.opt.maxEventsPerEpisode()) b.accesses.add(a);
            else b.elide(a.start());
            if (a.enter() != null) b.add(a.enter());
            if (a.exit() != null) b.add(a.exit());
        }
        if (a.kind() == Access.Kind.CONFIG_READ && a.end() != null && coversCommand(a) && a.value() != null) {
            if (st.lastCommandRead.size() >= MAX_DEVICES && !st.lastCommandRead.containsKey(a.dev())) st.lastCommandRead.clear();
            st.lastCommandRead.put(a.dev(), a);
        }
    }

    /** PCI_COMMAND is the 16-bit register at config offset 4. */
    public static boolean coversCommand(Access a) {
        return a.isConfig() && a.offset() <= 4 && a.offset() + a.size() >= 6;
    }
}
