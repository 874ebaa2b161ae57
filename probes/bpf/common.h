/* aertrace probes: what every probe file shares.
 *
 * The agent compiles this file followed by the probe files of the events it
 * could resolve on this kernel (aer.c, reset.c, vfio.c, cfglock.c) as one bcc
 * program. Arguments are read with PT_REGS_PARMn and bpf_probe_read_kernel
 * rather than bcc's argument rewriting, so the same source works for bcc 0.18
 * (bullseye) to 0.30+ and inside macros.
 */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>
#include <linux/pci.h>

/* Event types; the agent's decoder (agent/aertrace_agent/encode.py) uses the same numbers. */
#define EV_AER            1
#define EV_REC_ENTER      2
#define EV_REC_EXIT       3
#define EV_CB_ENTER       4
#define EV_CB_EXIT        5
#define EV_RESET_ENTER    6
#define EV_RESET_EXIT     7
#define EV_VERR_ENTER     8
#define EV_VERR_EXIT      9
#define EV_EVENTFD        10
#define EV_IOCTL_ENTER    11
#define EV_IOCTL_EXIT     12
#define EV_RW_ENTER       13
#define EV_RW_EXIT        14
#define EV_OPEN           15
#define EV_CLOSE          16
#define EV_URESET_ENTER   17
#define EV_URESET_EXIT    18
#define EV_CFG_LOCK       19
#define EV_RW_DONE        20   /* flight recorder: a whole access streamed at its exit (enter ts in tlp[0..1]): `vfio.rw` */
#define EV_PCI_HP         21   /* pci:pci_hp_event (7.0+) */
#define EV_LINK           22   /* pci:pcie_link_event (7.0+) */
/* device loss (hotplug.c, vfio.c); numbered from 40 so other additions below do not collide */
#define EV_HP_EVENT          40
#define EV_HP_UNCONF_ENTER   41
#define EV_HP_UNCONF_EXIT    42
#define EV_PCI_REMOVE_ENTER  43
#define EV_PCI_REMOVE_EXIT   44
#define EV_VFIO_REQUEST      45
#define EV_VFIO_REMOVE_ENTER 46
#define EV_VFIO_REMOVE_EXIT  47
/* QEMU uprobes (qemu.c): no PCI device */
#define EV_QEMU_CFG_ENTER    50
#define EV_QEMU_CFG_EXIT     51
#define EV_QEMU_REGION_ENTER 52
#define EV_QEMU_REGION_EXIT  53
#define EV_QEMU_VM_STOP      54
#define EV_QEMU_RUNSTATE     55
#define EV_QEMU_RESET        56

#define EV_EVENTFD_READ      60   /* a user read the error eventfd vfio signalled (vfio.c, eventfd.read) */

/* flags: which optional fields are valid */
#define F_RET    0x01
#define F_VALUE  0x02
#define F_WRITE  0x04
#define F_TLP    0x08
#define F_STATE  0x10
#define F_RESULT 0x20
#define F_TRIGGER 0x40   /* this event (re)armed its hierarchy's live window */
#define F_SNAP    0x80   /* it made its hierarchy live, and the kernel wrote the hierarchy's history into the stream
                          * just before it (struct hist_snap_t records with its ts and cpu) */

#define NODEV 0xffffffff

/* One record for every event type, 104 bytes (EV_RW_DONE: tlp[0..1] = entry ts; EV_LINK: tlp = speeds, type, flit); meaning of the generic fields per type in encode.py. */
struct event {
    u64 ts;          /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
    s64 ret;         /* return value (F_RET) */
    u64 arg;         /* eventfd ctx pointer, vfio in-region offset */
    u32 pid;
    u32 tid;
    u32 dev;         /* domain << 16 | bus << 8 | devfn, NODEV if none */
    u32 val;         /* aer status, ioctl cmd, rw value (F_VALUE), cb result (F_RESULT) */
    u32 size;        /* rw size */
    u32 tlp[4];      /* aer TLP header (F_TLP) */
    u16 type;        /* EV_* */
    u8 fn;           /* reset/user-reset function id, callback id, cfg-lock op, vfio region index */
    u8 state;        /* channel state (F_STATE) */
    u8 flags;        /* F_* */
    u8 sev;          /* aer severity */
    u16 cpu;         /* bpf_get_smp_processor_id(): a ring buffer record does not say */
    char comm[16];
    char driver[16]; /* bound driver name for callbacks, slot name for pci_hp_event */
};

/* ---- output: one BPF ring buffer (RINGBUF_PAGES, kernel 5.8+) or per-CPU perf buffers ---- */
#ifdef RINGBUF_PAGES
BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
/* A full ring buffer drops the record here, not in user space: count it per CPU with the ts of the
 * first and last record dropped since the agent last looked (lost_seen = the count it has seen), so
 * a `lost` line can say within which interval the hole lies. */
struct lost_t {
    u64 count;
    u64 first;
    u64 last;
};
BPF_PERCPU_ARRAY(rb_lost, struct lost_t, 1);
BPF_PERCPU_ARRAY(lost_seen, u64, 1);

static __always_inline void submit_flags(void *ctx, struct event *e, u64 flags)
{
    u32 zero = 0;
    struct lost_t *l;
    u64 *seen;

    if (events.ringbuf_output(e, sizeof(*e), flags) == 0)
        return;
    l = rb_lost.lookup(&zero);
    if (!l)
        return;
    seen = lost_seen.lookup(&zero);
    if (!seen || l->count == *seen)
        l->first = e->ts;
    l->last = e->ts;
    l->count++;
}
/* Hot-path records (region reads/writes) do not wake the agent; it reads the buffer every poll round. */
#define RB_QUIET BPF_RB_NO_WAKEUP
#define submit_raw submit_flags
/* A record that is not a struct event (the flight recorder's history snapshot): 0 = written. Not counted in
 * rb_lost: the caller falls back to keeping the history in the map, so nothing is lost. */
static __always_inline int output_raw(void *ctx, void *p, u32 size)
{
    return events.ringbuf_output(p, size, 0);
}
#else
BPF_PERF_OUTPUT(events);
#define RB_QUIET 0
/* a function, not a macro: bcc rewrites map calls only outside macro expansions */
static __always_inline void submit_raw(void *ctx, struct event *e, u64 flags)
{
    events.perf_submit(ctx, e, sizeof(*e));
}
static __always_inline int output_raw(void *ctx, void *p, u32 size)
{
    return events.perf_submit(ctx, p, size);
}
#endif

/* In-kernel device filter: filter_on[0] != 0 means only devices in allowed pass. Filled by the agent. */
BPF_ARRAY(filter_on, u32, 1);
BPF_HASH(allowed, u32, u8, 256);

static __always_inline u32 dev_key(struct pci_dev *pdev)
{
    struct pci_bus *bus = NULL;
    unsigned char busnr = 0;
    unsigned int devfn = 0;
    int dom = 0;

    if (!pdev)
        return NODEV;
    bpf_probe_read_kernel(&bus, sizeof(bus), &pdev->bus);
    bpf_probe_read_kernel(&devfn, sizeof(devfn), &pdev->devfn);
    if (!bus)
        return NODEV;
    bpf_probe_read_kernel(&busnr, sizeof(busnr), &bus->number);
#ifdef CONFIG_X86
    /* pci_domain_nr() is an out-of-line call on x86; the domain sits in the bus's sysdata. */
    {
        struct pci_sysdata *sd = NULL;
        bpf_probe_read_kernel(&sd, sizeof(sd), &bus->sysdata);
        if (sd)
            bpf_probe_read_kernel(&dom, sizeof(dom), &sd->domain);
    }
#endif
    return ((u32)dom & 0xffff) << 16 | (u32)busnr << 8 | (devfn & 0xff);
}

static __always_inline int dev_allowed(u32 key)
{
    u32 zero = 0;
    u32 *on = filter_on.lookup(&zero);

    if (!on || !*on)
        return 1;
    return allowed.lookup(&key) != NULL;
}

#ifdef HIST_N
/* ---- flight recorder ----------------------------------------------------------------------------
 * Region reads/writes of a device with a history slot are kept in that slot's circular buffer
 * (HIST_N entries) instead of being streamed, unless the device's hierarchy is live. Every event but
 * the user's own accesses/ioctls/open/close (errors, recovery, vfio's handler, host and user resets,
 * config locks) and a config read returning all ones make the hierarchy live for TAIL_NS after it;
 * the agent dumps the history when it sees the first such event (F_TRIGGER). */
struct devinfo_t {
    u32 slot;    /* history slot, NOSLOT = always streamed */
    u32 hier;    /* hierarchy (root port) id < HIER_MAX */
};
#define NOSLOT 0xffffffff
BPF_HASH(devinfo, u32, struct devinfo_t, 1024);
BPF_ARRAY(live_until, u64, HIER_MAX + 1);

struct hist_t {
    u64 seq;       /* 1 + index in the slot's sequence; 0 = never written */
    u64 ts_enter;
    u64 ts_exit;
    u64 offset;
    s64 ret;
    u32 pid;
    u32 tid;
    u32 val;
    u32 size;
    u8 region;
    u8 flags;
    u16 cpu;
    u8 pad[4];
    char comm[16];
};
/* Two banks of HIST_N entries per slot (entry (slot * HIST_BANKS + bank) * HIST_N + seq % HIST_N): a trigger freezes
 * the bank that holds its baseline and recording goes on in the other, so the baseline of the next error is kept
 * too while the agent has not written the first (measured on 7.2 with one bank: the agent seconds behind, 8 of 14
 * errors' history lines empty). mmap-able, so the agent reads a whole slot in one copy. */
#define HIST_BANKS 2
#ifdef HIST_SNAP
/* The snapshot copies whole chunks of HIST_CHUNK entries: the last chunk of the last bank reads into this padding
 * (HIST_CHUNK entries more, never written) when HIST_N is not a multiple of it. */
#define HIST_CHUNK (HIST_N < 256 ? HIST_N : 256)
#define HIST_PARTS ((HIST_N + HIST_CHUNK - 1) / HIST_CHUNK)
#define HIST_PAD HIST_CHUNK
#else
#define HIST_PAD 0
#endif
BPF_F_TABLE("array", u32, struct hist_t, history, HIST_SLOTS * HIST_N * HIST_BANKS + HIST_PAD, BPF_F_MMAPABLE);
BPF_ARRAY(hist_head, u64, HIST_SLOTS);

/* Counters per slot: accesses per region (0-9, 9 = any other) and COMMAND/STATUS value changes. */
#define NREG 10
BPF_ARRAY(rw_count, u64, HIST_SLOTS * NREG);
struct regs_t {
    u64 cmd_changes;
    u64 status_changes;
    u32 cmd;
    u32 status;
    u32 seen;      /* bit 0: cmd seen, bit 1: status seen */
    u32 pad;
};
BPF_ARRAY(regs, struct regs_t, HIST_SLOTS);

/* hist_frozen[h * HIST_BANKS + bank]: set by the trigger that makes a recording hierarchy live, for the bank its
 * devices were recording into, cleared by the agent once it has written that trigger's history
 * (bpfrun.Runner.unfreeze): until then no access overwrites that bank, so the baseline before the error survives
 * however far behind the agent is (a flat-out window written by Python can keep it seconds late, past the window,
 * when the kernel would record again). hist_bank[h]: the bank recording writes to; the trigger moves it to the
 * other bank unless that one still waits for the agent too (then accesses are not kept until the agent catches
 * up). Accesses not kept still take their seq: the agent counts the missing seqs as dropped. */
BPF_ARRAY(hist_frozen, u32, (HIER_MAX + 1) * HIST_BANKS);
BPF_ARRAY(hist_bank, u32, HIER_MAX + 1);

/* live_until[HIER_MAX] stands for every hierarchy: a device the agent does not know (no name, hot-added)
 * makes all of them live (a loop over the entries would not pass older verifiers); its freeze stops every
 * hierarchy's history (hist_frozen[HIER_MAX * HIST_BANKS]). */
/* 1 if the event at `now` made the device's hierarchy live (it was recording): the record that carries the event
 * then gets F_SNAP, and its SUBMIT writes the history into the stream or freezes it (hist_trigger). */
static __always_inline u32 arm_live(u32 dev, u64 now)
{
    struct devinfo_t *di = devinfo.lookup(&dev);
    u64 until = now + TAIL_NS;
    u32 h = di ? di->hier : HIER_MAX, went;
    u64 *cur = live_until.lookup(&h);

    went = !cur || now >= *cur;
    live_until.update(&h, &until);
    return went;
}

/* ---- reset / cfg lock / recovery in progress (vfio.rw's one-line records) -------------------------------------
 * A live access is written as one record at its return (EV_RW_DONE, the agent's `vfio.rw` line): half the records
 * of an enter and an exit, which is what a reader polling flat out through a live window fills the ring with. An
 * access that enters while its hierarchy has a reset, a config-space lock or a recovery in progress keeps the
 * separate entry record, streamed at once: such a read may be held (pci_cfg_access_lock) and must be visible while
 * held, or if it never returns. hier_busy[h] counts what is in progress on hierarchy h (begins minus ends, never
 * below 0: an end whose begin came before the agent attached is not counted); [HIER_MAX] stands for devices the
 * agent does not know. A begin whose end is never seen (a lost return probe) leaves the hierarchy busy: its accesses
 * are then written as enter/exit pairs, as before, more records but nothing hidden. */
BPF_ARRAY(hier_busy, s64, HIER_MAX + 1);

static __always_inline u32 hier_of(u32 dev)
{
    struct devinfo_t *di = devinfo.lookup(&dev);

    return di ? di->hier : HIER_MAX;
}

/* d = +1 at a begin, -1 at an end */
static __always_inline void busy_add(u32 dev, s64 d)
{
    u32 h = hier_of(dev);
    s64 *b = hier_busy.lookup(&h);

    if (!b)
        return;
    if (d > 0) {
        if (*b < 0)
            *b = 0;
        __sync_fetch_and_add(b, 1);
    } else if (*b > 0) {
        __sync_fetch_and_add(b, -1);
    }
}

static __always_inline int is_busy_h(u32 h)
{
    u32 all = HIER_MAX;
    s64 *b = hier_busy.lookup(&h);

    if (b && *b > 0)
        return 1;
    b = hier_busy.lookup(&all);
    return b && *b > 0;
}

/* Where the history cannot go into the stream at the trigger: keep the bank that holds the baseline until the
 * agent has read it from the map (bpfrun.Runner.unfreeze), and record on in the other bank if that one is free. */
static __always_inline void hist_freeze(u32 h)
{
    u32 *b = hist_bank.lookup(&h);
    u32 bank = b && h != HIER_MAX ? (*b & 1) : 0;
    u32 k = h * HIST_BANKS + bank, ko = h * HIST_BANKS + (bank ^ 1), one = 1;
    u32 *fo = hist_frozen.lookup(&ko);

    hist_frozen.update(&k, &one);
    if (b && h != HIER_MAX && fo && !*fo)
        *b = bank ^ 1;
}

#ifdef HIST_SNAP
/* ---- the history into the stream at the trigger -------------------------------------------------------------
 * An agent seconds behind the stream (Python writing a flat-out live window in an emulated guest) reached each
 * trigger long after it; with the history kept in the map until then, both banks were frozen by older triggers
 * and the next errors' baselines were never kept (7.2: 4 of 10 history lines empty with two banks). So the
 * trigger's own program copies both banks of every slot of its hierarchy into the ring (or perf buffer) just
 * before the trigger's record, in chunks of HIST_CHUNK entries (a perf record must stay under 64 KiB, a per-CPU
 * map value under 32 KiB), and the agent writes the history from those copies whenever it gets there. Both banks:
 * the agent picks the entries it has not written by their seqs, as it does from the map. */
#define SNAP_SLOTS 4   /* slots per hierarchy the trigger copies; a hierarchy with more keeps the freeze */
#define HIST_SNAP_MAGIC 0x50414e53
struct hist_snap_t {
    u64 ts;        /* the trigger's ts: its record has the same ts and cpu */
    u64 head;      /* the slot's hist_head when this chunk was copied: seqs up to it were taken */
    u32 magic;     /* HIST_SNAP_MAGIC */
    u32 slot;
    u16 cpu;
    u8 bank;
    u8 part;       /* chunk of the bank */
    u16 n;         /* entries of the bank in this chunk (the last chunk of a bank may hold fewer) */
    u16 parts;     /* chunks per slot in this snapshot: HIST_BANKS * HIST_PARTS */
    struct hist_t e[HIST_CHUNK];
};
struct hier_slots_t {
    u32 n;         /* slots of the hierarchy; 0 = more than SNAP_SLOTS (or none): freeze instead */
    u32 slot[SNAP_SLOTS];
};
BPF_ARRAY(hier_slots, struct hier_slots_t, HIER_MAX + 1);   /* [HIER_MAX]: every slot, for unknown devices */
BPF_PERCPU_ARRAY(snap_buf, struct hist_snap_t, 1);

/* 1 if every chunk of every slot of hierarchy h went into the stream. The loop is not unrolled: it is inlined
 * into every trigger program (bounded loops: kernel 5.3+). */
static __always_inline int hist_snapshot(void *ctx, struct event *e, u32 h)
{
    u32 zero = 0, k;
    struct hier_slots_t *hs = hier_slots.lookup(&h);
    struct hist_snap_t *s = snap_buf.lookup(&zero);

    if (!hs || !s || hs->n == 0 || hs->n > SNAP_SLOTS)
        return 0;
    s->ts = e->ts;
    s->magic = HIST_SNAP_MAGIC;
    s->cpu = e->cpu;
    s->parts = HIST_BANKS * HIST_PARTS;
#pragma clang loop unroll(disable)
    for (k = 0; k < SNAP_SLOTS * HIST_BANKS * HIST_PARTS; k++) {
        u32 i = k / (HIST_BANKS * HIST_PARTS), r = k % (HIST_BANKS * HIST_PARTS);
        u32 bank = r / HIST_PARTS, part = r % HIST_PARTS, slot, idx;
        struct hist_t *src;
        u64 *head;

        if (i >= hs->n)
            break;
        /* constant offsets only: clang may drop a mask it can prove redundant, the verifier cannot prove it */
        slot = i == 0 ? hs->slot[0] : i == 1 ? hs->slot[1] : i == 2 ? hs->slot[2] : hs->slot[3];
        idx = (slot * HIST_BANKS + bank) * HIST_N + part * HIST_CHUNK;
        src = history.lookup(&idx);
        head = hist_head.lookup(&slot);
        if (!src || !head)
            return 0;
        s->head = *head;
        s->slot = slot;
        s->bank = bank;
        s->part = part;
        s->n = part == HIST_PARTS - 1 ? HIST_N - part * HIST_CHUNK : HIST_CHUNK;
        /* the array's values are contiguous (it is mmap-able): a chunk is one copy from its first entry */
        if (bpf_probe_read_kernel(s->e, sizeof(s->e), src))
            return 0;
        if (output_raw(ctx, s, sizeof(*s)))
            return 0;
    }
    return 1;
}
#endif

/* At the SUBMIT of a record that made its hierarchy live (F_SNAP): the history into the stream, or, where that is
 * not possible (the ring full, more slots than SNAP_SLOTS, HIST_SNAP not compiled), F_SNAP cleared and the baseline
 * frozen for the agent to read from the map. */
static __always_inline void hist_trigger(void *ctx, struct event *e)
{
    u32 dev = e->dev;
    struct devinfo_t *di = devinfo.lookup(&dev);
    u32 h = di ? di->hier : HIER_MAX;

#ifdef HIST_SNAP
    if (hist_snapshot(ctx, e, h))
        return;
#endif
    e->flags &= ~F_SNAP;
    hist_freeze(h);
}

/* The bank hierarchy h records into, or HIST_BANKS when both wait for the agent (or everything is frozen). A bank
 * the agent has released while the other is frozen is taken up again here. */
static __always_inline u32 hist_bank_for(u32 h)
{
    u32 all = HIER_MAX * HIST_BANKS;
    u32 *b = hist_bank.lookup(&h);
    u32 bank, k, ko, *f, *fo;

    f = hist_frozen.lookup(&all);
    if (f && *f)
        return HIST_BANKS;
    if (!b || h >= HIER_MAX)
        return HIST_BANKS;
    bank = *b & 1;
    k = h * HIST_BANKS + bank;
    f = hist_frozen.lookup(&k);
    if (!f || !*f)
        return bank;
    ko = h * HIST_BANKS + (bank ^ 1);
    fo = hist_frozen.lookup(&ko);
    if (!fo || *fo)
        return HIST_BANKS;
    *b = bank ^ 1;
    return bank ^ 1;
}

/* known: the device has a devinfo entry (slot, h); unknown devices and devices without a slot always stream */
static __always_inline int is_live_h(u32 known, u32 slot, u32 h, u64 now)
{
    u32 all = HIER_MAX;
    u64 *until;

    if (!known || slot == NOSLOT)
        return 1;
    until = live_until.lookup(&h);
    if (until && now < *until)
        return 1;
    until = live_until.lookup(&all);
    return until && now < *until;
}
#endif

/* The user's own accesses, ioctls, opens and closes (and the guest's accesses through QEMU): they never make a
 * hierarchy live, so ev_init gives their records no F_SNAP (only vfio.rw's exit adds it, for an all-ones read). */
#define EV_USER_OWN(t) ((t) == EV_RW_ENTER || (t) == EV_RW_EXIT || (t) == EV_RW_DONE || (t) == EV_IOCTL_ENTER || \
                        (t) == EV_IOCTL_EXIT || (t) == EV_OPEN || (t) == EV_CLOSE || \
                        ((t) >= EV_QEMU_CFG_ENTER && (t) <= EV_QEMU_REGION_EXIT))

static __always_inline void ev_init(struct event *e, u16 type, u32 dev)
{
    u64 id = bpf_get_current_pid_tgid();

    __builtin_memset(e, 0, sizeof(*e));
#ifdef HIST_N
    /* type is a constant where this is inlined: only these programs keep the count (cfg_lock's op: cfglock.c). A
     * begin counts before its ts is taken, so no access entering after that ts is written as one line (measured on
     * 7.2 with the count after the ts: one read entered 16.8 us after a reset.enter's ts and was not split). */
    if (type == EV_REC_ENTER || type == EV_RESET_ENTER || type == EV_URESET_ENTER)
        busy_add(dev, 1);
#endif
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->type = type;
    e->dev = dev;
    e->cpu = (u16)bpf_get_smp_processor_id();
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
#ifdef HIST_N
    /* every event but the user's own accesses (re)opens the live window */
    if (!EV_USER_OWN(type)) {
        if (arm_live(dev, e->ts))
            e->flags |= F_SNAP;
        e->flags |= F_TRIGGER;
    }
    if (type == EV_REC_EXIT || type == EV_RESET_EXIT || type == EV_URESET_EXIT)
        busy_add(dev, -1);
#endif
}

/* Every record goes out through here: one that made its hierarchy live takes the history with it (hist_trigger). */
static __always_inline void submit_ev(void *ctx, struct event *e, u64 flags)
{
#ifdef HIST_N
    if (e->flags & F_SNAP)
        hist_trigger(ctx, e);
#endif
    submit_raw(ctx, e, flags);
}
#define SUBMIT(ctx, e) submit_ev(ctx, e, 0)
#define SUBMIT_QUIET(ctx, e) submit_ev(ctx, e, RB_QUIET)
/* For records ev_init made with an EV_USER_OWN type and nothing flagged F_SNAP after it (agent/tests
 * test_probe_source.py checks every use): they skip hist_trigger, which the compiler cannot drop itself (the record
 * escapes into helper calls, so the F_SNAP test stays), and whose inlined copy loop is most of what the verifier
 * walks in such a program (vfio.rw's read entry: 4,158 instructions verified with it, 945 without, kernel 6.18,
 * agent/bench/verifier_insns.py). */
#define SUBMIT_ACCESS(ctx, e) submit_raw(ctx, e, 0)
#define SUBMIT_ACCESS_QUIET(ctx, e) submit_raw(ctx, e, RB_QUIET)

/* Tracepoints carry a device's name, not its pci_dev. */
static __always_inline u32 hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return 0x100;
}

/* "DDDD:BB:DD.F" -> dev key; the tracepoint only carries the device's name. */
static __always_inline u32 parse_pci_name(const char *s)
{
    u32 dom = 0, bus = 0, slot = 0, fn, d;
    int i;

#pragma unroll
    for (i = 0; i < 4; i++) {
        d = hexdigit(s[i]);
        if (d > 15)
            return NODEV;
        dom = dom << 4 | d;
    }
    if (s[4] != ':' || s[7] != ':' || s[10] != '.')
        return NODEV;
    d = hexdigit(s[5]); if (d > 15) return NODEV; bus = d << 4;
    d = hexdigit(s[6]); if (d > 15) return NODEV; bus |= d;
    d = hexdigit(s[8]); if (d > 15) return NODEV; slot = d << 4;
    d = hexdigit(s[9]); if (d > 15) return NODEV; slot |= d;
    fn = hexdigit(s[11]);
    if (fn > 7 || slot > 31)
        return NODEV;
    return dom << 16 | bus << 8 | slot << 3 | fn;
}

static __always_inline u32 cur_tid(void)
{
    return (u32)bpf_get_current_pid_tgid();
}

/* Name of the driver bound to pdev (pdev->dev.driver->name; struct pci_dev lost its own
 * `driver` pointer in 5.16, struct device kept it). */
static __always_inline void read_driver(struct pci_dev *pdev, char *dst)
{
    struct device_driver *drv = NULL;
    const char *name = NULL;

    bpf_probe_read_kernel(&drv, sizeof(drv), &pdev->dev.driver);
    if (!drv)
        return;
    bpf_probe_read_kernel(&name, sizeof(name), &drv->name);
    if (name)
        bpf_probe_read_kernel_str(dst, 16, name);
}
