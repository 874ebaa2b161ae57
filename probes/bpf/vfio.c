/* vfio-pci: its AER error_detected handler, the error eventfd it signals, and the user's
 * ioctls, region reads/writes and open/close. */
#ifdef VFIO_DEVICE_ARG
#include <linux/vfio.h>
#endif

#if defined(PROBE_VFIO_IOCTL) || defined(PROBE_VFIO_RW) || defined(PROBE_VFIO_OPEN) || defined(PROBE_VFIO_REQUEST)
#define VFIO_PCI_OFFSET_SHIFT 40
#define VFIO_PCI_CONFIG_REGION_INDEX 7

/* The device argument of vfio-pci's file callbacks. */
static __always_inline struct pci_dev *vfio_pdev(void *v)
{
#ifdef VFIO_DEVICE_ARG
    /* >= 5.13: struct vfio_device *, whose ->dev is &pdev->dev. */
    struct device *d = NULL;

    bpf_probe_read_kernel(&d, sizeof(d), &((struct vfio_device *)v)->dev);
    if (!d)
        return NULL;
    return (struct pci_dev *)((char *)d - offsetof(struct pci_dev, dev));
#else
    /* <= 5.12: void *device_data is struct vfio_pci_device *, whose first member is
     * struct pci_dev *pdev (drivers/vfio/pci/vfio_pci_private.h, not in the headers). */
    struct pci_dev *p = NULL;

    bpf_probe_read_kernel(&p, sizeof(p), v);
    return p;
#endif
}

struct vstash_t {
    u64 buf;
    u64 pos;
    u64 ts;       /* entry time */
    u32 dev;
    u32 size;
    u32 cmd;
    u32 write;
    u32 wval;     /* config write value read at entry (wflags = F_VALUE) */
    u32 wflags;
    u32 live;     /* LIVE_ONE: entered while live (written whole at its return); LIVE_SPLIT: its entry was streamed */
    u32 known;    /* the recorder knows the device (slot, hier valid) */
    u32 slot;
    u32 hier;
    u32 valid;    /* TASK_STASH: the task's stash holds an access in flight */
    /* TASK_STASH + VCACHE: the device this task last accessed, with what rw_enter needs to know about it
     * (struct vinfo_t's fields), valid while the open/close generation is cgen */
    u64 cvdev;
    u32 cgen;
    u32 cvalid;
    u32 cdev;
    u32 callowed;
    u32 cknown;
    u32 cslot;
    u32 chier;
    u32 cident;   /* TASK_STASH fast path: cpid/ctid/ccomm below are this task's (rw_exit takes them from here) */
    u32 cpid;
    u32 ctid;
    u32 cuses;    /* accesses since the cache was filled: refreshed every CACHE_USES (a comm can change) */
    u32 cpad;
    char ccomm[16];
};
#endif

#ifdef PROBE_VFIO_RW
/* vstash_t.live: how an access that entered while its hierarchy was live is written. LIVE_ONE: one record at its
 * return (EV_RW_DONE). LIVE_SPLIT: a reset, config lock or recovery was in progress (common.h hier_busy), so its entry
 * was streamed at once (it may be held there) and its return is a second record. */
#define LIVE_ONE 1
#define LIVE_SPLIT 2

/* What rw_enter needs to know about a vfio_device: its key (five pointer reads from the vfio_device to the
 * bus's domain), whether the filter lets it through, and its history slot and hierarchy. */
struct vinfo_t {
    u32 dev;
    u32 allowed;
    u32 known;
    u32 slot;
    u32 hier;
};

static __always_inline void vinfo_of(void *vdev, struct vinfo_t *v)
{
    v->dev = dev_key(vfio_pdev(vdev));
    v->allowed = dev_allowed(v->dev);
    v->known = 0;
    v->slot = 0;
    v->hier = 0;
#ifdef HIST_N
    {
        struct devinfo_t *di = devinfo.lookup(&v->dev);
        if (di) {
            v->known = 1;
            v->slot = di->slot;
            v->hier = di->hier;
        }
    }
#endif
}

#ifdef PROBE_VFIO_OPEN
/* Every access would redo vinfo_of: seven helper calls that, measured under TCG (agent/bench/probe_cost.sh),
 * are most of the probe's cost. Kept per vfio_device pointer from its first access until the user closes
 * the device (vfio.open/close, attached with vfio.rw, drop the entry), so a freed vfio_device's address
 * reused by another device starts over. */
#define VCACHE 1
BPF_HASH(vcache, u64, struct vinfo_t, 1024);
/* Bumped at every vfio.open/close: a task's own copy of its last device's vinfo (TASK_STASH) is from an
 * earlier generation then and is looked up again, so a flat-out reader pays no hash lookup per access. */
BPF_ARRAY(vgen, u32, 1);
#endif

static __always_inline void vinfo_get(void *vdev, struct vinfo_t *v)
{
#ifdef VCACHE
    u64 vk = (u64)vdev;
    struct vinfo_t *vc = vcache.lookup(&vk);

    if (vc) {
        *v = *vc;
        return;
    }
    vinfo_of(vdev, v);
    vcache.update(&vk, v);
#else
    vinfo_of(vdev, v);
#endif
}
#endif

/* ---- vfio.err_detected + eventfd.signal ---------------------------------- */
#ifdef PROBE_VFIO_ERR
BPF_HASH(vfio_err, u32, u32);   /* tid -> dev while vfio's error_detected runs on that thread */

int vfio_err_enter(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx)), tid = cur_tid();
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_VERR_ENTER, dev);
    e.state = (u8)PT_REGS_PARM2(ctx);
    e.flags |= F_STATE;
    SUBMIT(ctx, &e);
    vfio_err.update(&tid, &dev);
    return 0;
}

int vfio_err_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = vfio_err.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_VERR_EXIT, *dev);
    e.ret = (int)PT_REGS_RC(ctx);
    e.flags |= F_RET;
    vfio_err.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}
#endif

#ifdef PROBE_EVENTFD_READ
#include <linux/fs.h>
/* eventfd_ctx pointer -> dev: the contexts vfio signalled from its error handler (err_trigger). */
BPF_HASH(err_ctx, u64, u32, 64);
#endif

#ifdef PROBE_EVENTFD
/* eventfd_signal(ctx, n) <= 6.7, eventfd_signal_mask(ctx, ...) >= 6.8: only inside vfio's handler. */
int eventfd_enter(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = vfio_err.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_EVENTFD, *dev);
    e.arg = PT_REGS_PARM1(ctx);
    SUBMIT(ctx, &e);
#ifdef PROBE_EVENTFD_READ
    {
        u64 c = e.arg;
        err_ctx.update(&c, dev);
    }
#endif
    return 0;
}
#endif

#ifdef PROBE_EVENTFD_READ
/* ---- eventfd.read: the user (QEMU's main loop, lab/vfio-user) reads the error eventfd --------------------
 * eventfd_read is fs/eventfd.c's f_op: read_iter(struct kiocb *, struct iov_iter *) on the kernels checked,
 * read(struct file *, ...) before the read_iter conversion. The eventfd_ctx is the file's private_data; both
 * readings of the first argument are looked up among the contexts vfio signalled (a pointer that is not one of
 * them never matches), so only reads of an error eventfd are recorded. The lookup is at return: a blocking reader
 * enters before the signal registers the context. */
struct efd_stash_t {
    u64 ts;
    u64 c1;
    u64 c2;
};
BPF_HASH(efd_stash, u32, struct efd_stash_t, 1024);

int eventfd_read_enter(struct pt_regs *ctx)
{
    void *arg = (void *)PT_REGS_PARM1(ctx);
    struct file *f = NULL;
    struct efd_stash_t st = {};
    u32 tid = cur_tid();

    st.ts = bpf_ktime_get_ns();
    bpf_probe_read_kernel(&f, sizeof(f), &((struct kiocb *)arg)->ki_filp);
    if (f)
        bpf_probe_read_kernel(&st.c1, sizeof(st.c1), &f->private_data);
    bpf_probe_read_kernel(&st.c2, sizeof(st.c2), &((struct file *)arg)->private_data);
    efd_stash.update(&tid, &st);
    return 0;
}

int eventfd_read_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    struct efd_stash_t *st = efd_stash.lookup(&tid);
    struct event e;
    u32 *dev;
    u64 c;

    if (!st)
        return 0;
    c = st->c1;
    dev = err_ctx.lookup(&c);
    if (!dev) {
        c = st->c2;
        dev = err_ctx.lookup(&c);
    }
    if (!dev) {
        efd_stash.delete(&tid);
        return 0;
    }
    ev_init(&e, EV_EVENTFD_READ, *dev);
    e.arg = c;
    e.ret = (s64)PT_REGS_RC(ctx);
    e.flags |= F_RET;
    /* when the read entered: a blocking reader waited for the signal */
    e.tlp[0] = (u32)st->ts;
    e.tlp[1] = (u32)(st->ts >> 32);
    efd_stash.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}
#endif

/* ---- vfio.ioctl ----------------------------------------------------------- */
#ifdef PROBE_VFIO_IOCTL
BPF_HASH(ioctl_stash, u32, struct vstash_t);

int vfio_ioctl_enter(struct pt_regs *ctx)
{
    u32 dev = dev_key(vfio_pdev((void *)PT_REGS_PARM1(ctx))), tid = cur_tid();
    struct vstash_t st = {};
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_IOCTL_ENTER, dev);
    e.val = (u32)PT_REGS_PARM2(ctx);
    SUBMIT_ACCESS(ctx, &e);
    st.dev = dev;
    st.cmd = e.val;
    ioctl_stash.update(&tid, &st);
    return 0;
}

int vfio_ioctl_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    struct vstash_t *st = ioctl_stash.lookup(&tid);
    struct event e;

    if (!st)
        return 0;
    ev_init(&e, EV_IOCTL_EXIT, st->dev);
    e.val = st->cmd;
    e.ret = (long)PT_REGS_RC(ctx);
    e.flags |= F_RET;
    ioctl_stash.delete(&tid);
    SUBMIT_ACCESS(ctx, &e);
    return 0;
}
#endif

/* ---- vfio.rw: read/write(core_vdev, char __user *buf, size_t count, loff_t *ppos) ---- */
#ifdef PROBE_VFIO_RW
BPF_HASH(rw_stash, u32, struct vstash_t);
#ifdef TASK_STASH
/* Entry -> exit of an access: in the task's own storage (5.15+), found by a pointer off the task instead of
 * a hash update and delete per access (each takes the bucket lock and the free list's: the most expensive
 * part of the recording path under TCG). The thread may sleep inside the read (a config read held by
 * pci_cfg_access_lock during a reset) and wake on another CPU, so a per-CPU slot would not do. If the
 * storage cannot be had (allocation, recursion guard), the hash above takes the access. */
BPF_TASK_STORAGE(rw_tstash, struct vstash_t);
/* How many accesses the hash above holds (entries put there when the task's storage could not be had; an entry
 * replacing a stale one of the same tid counts twice, so this can only overcount). While it is 0 an exit whose task
 * holds no access in its storage returns at once instead of hashing its tid: every read of a device the filter
 * leaves out (another VM's) took a pid/tid helper call and a hash lookup for nothing. */
BPF_ARRAY(rw_hashed, s64, 1);

static __always_inline int hash_in_use(void)
{
    u32 zero = 0;
    s64 *n = rw_hashed.lookup(&zero);

    return !n || *n > 0;
}

static __always_inline void hashed_add(s64 d)
{
    u32 zero = 0;
    s64 *n = rw_hashed.lookup(&zero);

    if (n)
        __sync_fetch_and_add(n, d);
}
#endif

/* Config accesses are 1, 2 or 4 bytes; the value is read from the user's buffer. */
static __always_inline int read_user_val(u64 buf, u32 n, u32 *val)
{
    u8 b1 = 0;
    u16 b2 = 0;

    if (n == 4)
        return bpf_probe_read_user(val, 4, (void *)buf) == 0;
    if (n == 2 && bpf_probe_read_user(&b2, 2, (void *)buf) == 0) {
        *val = b2;
        return 1;
    }
    if (n == 1 && bpf_probe_read_user(&b1, 1, (void *)buf) == 0) {
        *val = b1;
        return 1;
    }
    return 0;
}

static __always_inline void stash_put(struct vstash_t *st)
{
    u32 tid;
#ifdef TASK_STASH
    struct vstash_t *t = rw_tstash.task_storage_get(bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

    if (t) {
        *t = *st;
        t->valid = 1;
        return;
    }
    tid = cur_tid();
    if (rw_stash.update(&tid, st) == 0)
        hashed_add(1);
#else
    tid = cur_tid();
    rw_stash.update(&tid, st);
#endif
}

/* The entry streamed while the hierarchy is live (a reset may hold the access: its entry must be in the
 * stream even if it never returns). */
static __always_inline void rw_enter_live(void *ctx, u32 dev, u32 write, u64 buf, u32 size, u64 pos, u32 *wval,
                                          u32 *wflags)
{
    struct event e;

    ev_init(&e, EV_RW_ENTER, dev);
    e.fn = (u8)(pos >> VFIO_PCI_OFFSET_SHIFT);
    e.arg = pos & ((1ULL << VFIO_PCI_OFFSET_SHIFT) - 1);
    e.size = size;
    if (write) {
        e.flags |= F_WRITE;
        if (e.fn == VFIO_PCI_CONFIG_REGION_INDEX && read_user_val(buf, size, &e.val)) {
            e.flags |= F_VALUE;
            *wval = e.val;
            *wflags = F_VALUE;
        }
    }
    SUBMIT_ACCESS_QUIET(ctx, &e);
}

#ifdef BENCH_MODES
/* agent/bench/cost.sh's A/B with AERTRACE_BENCH_MODES: the agent sets this at each re-attach, so one boot (one
 * compile) measures the parts of the per-access cost: bit 0 = the entry program returns at once, bit 1 = the
 * exit program does; bit 2 = both take no clock reading (each access keeps the task's last entry
 * time: what the two bpf_ktime_get_ns cost). Bit 2 stops the clock for the live-window test too: a window armed
 * during such a phase (a reader's open-time FLR) never ends for that task, and every access streams; cost.sh's A/B
 * phases arm none. Never compiled into a recording agent. The higher bits split the rest (agent/bench/prog_split.sh,
 * timed by the kernel): bit 3 = the exit reads no value from the user's buffer, bit 4 = it keeps no counters, bit 5 =
 * it writes no history entry, bit 6 = it reads no CPU id, bit 7 = the entry reads no file position, bit 8 = the
 * entry returns once it has its task's storage, bit 9 = the exit returns once it has the stash (and drops it), bit 10 =
 * an exit without an access in its task's storage looks in the hash even when the hash holds none (as before
 * rw_hashed: bits 0 and 10 together time the exit of an access the entry did not keep, a filtered-out device's). */
BPF_ARRAY(bench_mode, u32, 1);
static __always_inline int bench_skip(u32 bit)
{
    u32 zero = 0;
    u32 *m = bench_mode.lookup(&zero);

    return m && (*m & bit);
}
#endif

#if defined(TASK_STASH) && defined(VCACHE) && defined(HIST_N)
/* The task's pid/tid/comm are cached with its device (rw_exit takes them from here instead of two helper calls
 * per access, agent/README.md "where the per-access cost goes"): refreshed at every vfio open/close and every
 * CACHE_USES accesses, so a thread that renames itself (prctl, exec with the fd inherited) is recorded under its
 * old comm for at most that many accesses. */
#define CACHE_USES 1024
/* The recording path of every access, kept short (under TCG each instruction is emulated, and this runs at the
 * user's full read rate): the stash is the task's own storage, written in place; the device's vinfo comes from
 * the task's copy of its last device (no hash lookup) unless a vfio.open/close happened since. */
static __always_inline int rw_enter_task(void *ctx, struct vstash_t *t, u32 write, void *vdev, u64 buf, u64 count,
                                         void *ppos)
{
    u32 zero = 0, gen = 0;
    u32 *g = vgen.lookup(&zero);
    u64 pos = 0;

    if (g)
        gen = *g;
    if (!t->cvalid || t->cvdev != (u64)vdev || t->cgen != gen || t->cuses >= CACHE_USES) {
        struct vinfo_t v = {};
        u64 id = bpf_get_current_pid_tgid();

        t->cpid = id >> 32;
        t->ctid = (u32)id;
        bpf_get_current_comm(&t->ccomm, sizeof(t->ccomm));
        t->cuses = 0;
        t->cident = 1;

        vinfo_get(vdev, &v);
        t->cvdev = (u64)vdev;
        t->cgen = gen;
        t->cdev = v.dev;
        t->callowed = v.allowed;
        t->cknown = v.known;
        t->cslot = v.slot;
        t->chier = v.hier;
        t->cvalid = 1;
    }
    t->cuses++;
    if (!t->callowed) {
        t->valid = 0;
        return 0;
    }
#ifdef BENCH_MODES
    if (!bench_skip(128))
#endif
    bpf_probe_read_kernel(&pos, sizeof(pos), ppos);
#ifdef BENCH_MODES
    if (!bench_skip(4) || !t->ts)
#endif
    t->ts = bpf_ktime_get_ns();
    t->buf = buf;
    t->pos = pos;
    t->size = (u32)count;
    t->write = write;
    t->dev = t->cdev;
    t->known = t->cknown;
    t->slot = t->cslot;
    t->hier = t->chier;
    t->wflags = 0;
    t->live = is_live_h(t->cknown, t->cslot, t->chier, t->ts);
    if (t->live && is_busy_h(t->cknown ? t->chier : HIER_MAX)) {
        t->live = LIVE_SPLIT;
        rw_enter_live(ctx, t->cdev, write, buf, t->size, pos, &t->wval, &t->wflags);
    } else if (write && (u8)(pos >> VFIO_PCI_OFFSET_SHIFT) == VFIO_PCI_CONFIG_REGION_INDEX &&
               read_user_val(buf, t->size, &t->wval)) {
        t->wflags = F_VALUE;
    }
    t->valid = 1;
    return 0;
}
#endif


/* Shared by the kprobe and the fentry variants: ctx is only passed on to SUBMIT. */
static __always_inline int rw_enter(void *ctx, u32 write, void *vdev, u64 buf, u64 count, void *ppos)
{
    u32 dev;
    struct vstash_t st = {};
    struct vinfo_t v = {};
    u64 pos = 0;
#ifdef BENCH_RW_EMPTY
    return 0;   /* agent/bench/cost.sh: what the attachment costs without any work in the program */
#endif
#ifdef BENCH_MODES
    if (bench_skip(1))
        return 0;
#endif
#if defined(TASK_STASH) && defined(VCACHE) && defined(HIST_N)
    {
        struct vstash_t *t = rw_tstash.task_storage_get(bpf_get_current_task_btf(), 0,
                                                        BPF_LOCAL_STORAGE_GET_F_CREATE);

#ifdef BENCH_MODES
        if (t && bench_skip(256))
            return 0;
#endif
        if (t)
            return rw_enter_task(ctx, t, write, vdev, buf, count, ppos);
    }
#endif
    vinfo_get(vdev, &v);
    if (!v.allowed)
        return 0;
    dev = v.dev;
    bpf_probe_read_kernel(&pos, sizeof(pos), ppos);
    st.dev = dev;
    st.buf = buf;
    st.size = (u32)count;
    st.pos = pos;
    st.write = write;
    st.known = v.known;
    st.slot = v.slot;
    st.hier = v.hier;
    st.ts = bpf_ktime_get_ns();
#ifdef HIST_N
    /* nothing streamed at entry (the exit keeps or streams the whole access) unless a reset, config lock or recovery
     * is in progress on a live hierarchy */
    st.live = is_live_h(v.known, v.slot, v.hier, st.ts);
    if (!st.live || !is_busy_h(v.known ? v.hier : HIER_MAX)) {
        if (write && (u8)(pos >> VFIO_PCI_OFFSET_SHIFT) == VFIO_PCI_CONFIG_REGION_INDEX &&
            read_user_val(st.buf, st.size, &st.wval))
            st.wflags = F_VALUE;
        stash_put(&st);
        return 0;
    }
    st.live = LIVE_SPLIT;
#endif
    rw_enter_live(ctx, dev, write, st.buf, st.size, pos, &st.wval, &st.wflags);
    stash_put(&st);
    return 0;
}

#ifdef HIST_N
static __always_inline void rw_count_regs(u32 slot, u8 region, u64 off, u32 size, s64 ret, u32 flags, u32 val)
{
    u32 i = slot * NREG + (region < NREG - 1 ? region : NREG - 1);
    u64 *n = rw_count.lookup(&i);
    struct regs_t *r;
    u32 cmd = 0, status = 0, has = 0;

    if (n)
        __sync_fetch_and_add(n, 1);
    if (region != VFIO_PCI_CONFIG_REGION_INDEX || (flags & (F_WRITE | F_VALUE)) != F_VALUE || ret <= 0)
        return;
    if (off == 4 && size == 2) { cmd = val & 0xffff; has = 1; }
    else if (off == 4 && size == 4) { cmd = val & 0xffff; status = val >> 16; has = 3; }
    else if (off == 6 && size == 2) { status = val & 0xffff; has = 2; }
    if (!has)
        return;
    r = regs.lookup(&slot);
    if (!r)
        return;
    if (has & 1) {
        if ((r->seen & 1) && r->cmd != cmd)
            __sync_fetch_and_add(&r->cmd_changes, 1);
        r->cmd = cmd;
    }
    if (has & 2) {
        if ((r->seen & 2) && r->status != status)
            __sync_fetch_and_add(&r->status_changes, 1);
        r->status = status;
    }
    r->seen |= has;
}
#endif

static __always_inline void stash_drop(struct vstash_t *st, u32 in_task, u32 tid)
{
    if (in_task) {
        st->valid = 0;
        return;
    }
#ifdef TASK_STASH
    if (rw_stash.delete(&tid) == 0)
        hashed_add(-1);
#else
    rw_stash.delete(&tid);
#endif
}

static __always_inline int rw_exit(void *ctx, s64 ret)
{
    u64 id;
    u32 tid = 0, pid = 0;
    struct vstash_t *st = NULL;
    struct event e;
    u32 val = 0, flags = F_RET, in_task = 0;
    u8 region;
    u64 off, now;
#ifdef HIST_N
    u32 all_ones = 0, went_live = 0;
#endif

#ifdef BENCH_RW_EMPTY
    return 0;
#endif
#ifdef BENCH_MODES
    if (bench_skip(2))
        return 0;
#endif
#ifdef TASK_STASH
    st = rw_tstash.task_storage_get(bpf_get_current_task_btf(), 0, 0);
    if (st && st->valid) {
        in_task = 1;
    } else {
        st = NULL;
        if (!hash_in_use()
#ifdef BENCH_MODES
            && !bench_skip(1024)
#endif
            )
            return 0;
    }
#endif
    if (st && st->cident) {
        /* the fast path's cache (rw_enter_task): the same thread, two helper calls fewer per access */
        pid = st->cpid;
        tid = st->ctid;
    } else {
        id = bpf_get_current_pid_tgid();
        tid = (u32)id;
        pid = id >> 32;
    }
    if (!st)
        st = rw_stash.lookup(&tid);
    if (!st)
        return 0;
#ifdef BENCH_MODES
    if (bench_skip(512)) {
        stash_drop(st, in_task, tid);
        return 0;
    }
#endif
#ifdef BENCH_MODES
    if (bench_skip(4) && st->ts)
        now = st->ts;
    else
#endif
    now = bpf_ktime_get_ns();
    region = (u8)(st->pos >> VFIO_PCI_OFFSET_SHIFT);
    off = st->pos & ((1ULL << VFIO_PCI_OFFSET_SHIFT) - 1);
    if (st->write) {
        flags |= F_WRITE | st->wflags;
        val = st->wval;
    } else if (region == VFIO_PCI_CONFIG_REGION_INDEX && ret > 0 && ret <= 4
#ifdef BENCH_MODES
               && !bench_skip(8)
#endif
               ) {
        /* The value the user got, read back from its buffer now that the copy is done. */
        if (read_user_val(st->buf, (u32)ret, &val))
            flags |= F_VALUE;
    }
#ifdef HIST_N
#ifdef BENCH_MODES
    if (!bench_skip(16))
#endif
    if (st->known && st->slot < HIST_SLOTS)
        rw_count_regs(st->slot, region, off, st->size, ret, flags, val);
    /* a config read of all ones: nobody answered, the device is gone or resetting */
    if ((flags & (F_WRITE | F_VALUE)) == F_VALUE &&
        ((ret == 1 && val == 0xff) || (ret == 2 && val == 0xffff) || (ret == 4 && val == 0xffffffff))) {
        all_ones = 1;
        went_live = arm_live(st->dev, now);
    }
    if (!all_ones && !st->live && !is_live_h(st->known, st->slot, st->hier, now)) {
        /* recording: keep the access in the device's history */
        u32 slot = st->slot, idx, bank;
        u64 *head = hist_head.lookup(&slot), seq;
        struct hist_t *h;

        if (!head
#ifdef BENCH_MODES
            || bench_skip(32)
#endif
            ) {
            stash_drop(st, in_task, tid);
            return 0;
        }
        /* The fetch-and-add's old value would need BPF atomics with fetch (clang -mcpu=v3; 7.2's bcc
         * refused it in a fexit program): add, then read. Two CPUs writing the same device's history at
         * once may read the same value; one entry then overwrites the other and the seq left without an
         * entry is counted as dropped by the reader, never invented. */
        __sync_fetch_and_add(head, 1);
        bank = hist_bank_for(st->hier);
        if (bank >= HIST_BANKS) {
            /* both banks wait for the agent's dumps: this seq stays without an entry (counted as dropped) */
            stash_drop(st, in_task, tid);
            return 0;
        }
        seq = *head - 1;
        idx = (slot * HIST_BANKS + bank) * HIST_N + (u32)(seq % HIST_N);
        h = history.lookup(&idx);
        if (h) {
            h->seq = 0;   /* a reader seeing 0 skips the entry being rewritten */
            h->ts_enter = st->ts;
            h->ts_exit = now;
            h->offset = off;
            h->ret = ret;
            h->pid = pid;
            h->tid = tid;
            h->val = val;
            h->size = st->size;
            h->region = region;
            h->flags = (u8)flags;
#ifdef BENCH_MODES
            if (!bench_skip(64))
#endif
            h->cpu = (u16)bpf_get_smp_processor_id();
            if (in_task && st->cident)
                __builtin_memcpy(h->comm, st->ccomm, sizeof(h->comm));
            else
                bpf_get_current_comm(&h->comm, sizeof(h->comm));
            h->seq = seq + 1;
        }
        stash_drop(st, in_task, tid);
        return 0;
    }
#endif
    ev_init(&e, EV_RW_EXIT, st->dev);
    e.fn = region;
    e.arg = off;
    e.size = st->size;
    e.ret = ret;
    e.flags |= flags;
    e.val = val;
    {
        u32 done = 0;
#ifdef HIST_N
        done = st->live != LIVE_SPLIT;
        if (all_ones)
            e.flags |= F_TRIGGER;
        if (went_live)
            e.flags |= F_SNAP;   /* its SUBMIT takes the history with it */
#endif
        if (done) {
            /* entered while recording or live without a reset/lock/recovery in progress: both halves in one record */
            e.type = EV_RW_DONE;
            e.tlp[0] = (u32)st->ts;
            e.tlp[1] = (u32)(st->ts >> 32);
        } else if (st->write) {
            e.flags &= ~F_VALUE;   /* a write's value was on its streamed entry */
        }
    }
    stash_drop(st, in_task, tid);
    SUBMIT_QUIET(ctx, &e);
    return 0;
}

#ifdef VFIO_RW_FENTRY
/* fentry/fexit (BTF trampolines, no kprobe machinery): vfio_pci_core is a module, so bcc >= 0.31's
 * MODULE_KFUNC_PROBE; bcc attaches kfunc__/kretfunc__ functions when it loads the program. */
MODULE_KFUNC_PROBE(vfio_pci_core, vfio_pci_core_read, struct vfio_device *core_vdev, char *buf, size_t count, loff_t *ppos)
{
    return rw_enter(ctx, 0, core_vdev, (u64)buf, count, ppos);
}
MODULE_KRETFUNC_PROBE(vfio_pci_core, vfio_pci_core_read, struct vfio_device *core_vdev, char *buf, size_t count, loff_t *ppos, ssize_t ret)
{
    return rw_exit(ctx, ret);
}
MODULE_KFUNC_PROBE(vfio_pci_core, vfio_pci_core_write, struct vfio_device *core_vdev, const char *buf, size_t count, loff_t *ppos)
{
    return rw_enter(ctx, 1, core_vdev, (u64)buf, count, ppos);
}
MODULE_KRETFUNC_PROBE(vfio_pci_core, vfio_pci_core_write, struct vfio_device *core_vdev, const char *buf, size_t count, loff_t *ppos, ssize_t ret)
{
    return rw_exit(ctx, ret);
}
#else
#ifdef VFIO_RW_RAWFENTRY
/* fentry/fexit loaded by the agent itself through libbpf (bpfrun.LibbpfFentry) where bcc cannot attach to a
 * module function (bookworm's bcc 0.26: no MODULE_KFUNC_PROBE) but the kernel has trampolines and the module's
 * BTF (6.1). Plain functions over the trampoline's u64 argument array (args, then the return value), named
 * without bcc's kfunc__ prefix so bcc does not try to attach them. The kprobe wrappers below are compiled too:
 * the agent falls back to them if the load or the attach fails. */
int raw_fentry_read(unsigned long long *ctx) { return rw_enter(ctx, 0, (void *)ctx[0], ctx[1], ctx[2], (void *)ctx[3]); }
int raw_fexit_read(unsigned long long *ctx) { return rw_exit(ctx, (s64)ctx[4]); }
int raw_fentry_write(unsigned long long *ctx) { return rw_enter(ctx, 1, (void *)ctx[0], ctx[1], ctx[2], (void *)ctx[3]); }
int raw_fexit_write(unsigned long long *ctx) { return rw_exit(ctx, (s64)ctx[4]); }
#endif
int vfio_read_enter(struct pt_regs *ctx)
{
    return rw_enter(ctx, 0, (void *)PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx));
}
int vfio_write_enter(struct pt_regs *ctx)
{
    return rw_enter(ctx, 1, (void *)PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx));
}
int vfio_rw_exit(struct pt_regs *ctx) { return rw_exit(ctx, (long)PT_REGS_RC(ctx)); }
#endif
#endif

/* ---- vfio.open / vfio.close ---------------------------------------------- */
#ifdef PROBE_VFIO_OPEN
static __always_inline int open_close(struct pt_regs *ctx, u16 type)
{
    u32 dev = dev_key(vfio_pdev((void *)PT_REGS_PARM1(ctx)));
    struct event e;
#ifdef VCACHE
    u64 vk = PT_REGS_PARM1(ctx);
    u32 zero = 0;
    u32 *g = vgen.lookup(&zero);

    vcache.delete(&vk);
    if (g)
        __sync_fetch_and_add(g, 1);
#endif

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, type, dev);
    SUBMIT_ACCESS(ctx, &e);
    return 0;
}

int vfio_open(struct pt_regs *ctx) { return open_close(ctx, EV_OPEN); }
int vfio_close(struct pt_regs *ctx) { return open_close(ctx, EV_CLOSE); }
#endif

/* ---- vfio.request + vfio.remove: the host wants the device back ----------- */
#ifdef PROBE_VFIO_REQUEST
/* vfio_pci_core_request(struct vfio_device *, unsigned int count) 5.15+ / vfio_pci_request(void *
 * device_data, count) <=5.12: signals the user's request eventfd (count = how many times vfio
 * asked; it asks again every 10 s while the user holds the device). */
int vfio_request(struct pt_regs *ctx)
{
    u32 dev = dev_key(vfio_pdev((void *)PT_REGS_PARM1(ctx)));
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_VFIO_REQUEST, dev);
    e.val = (u32)PT_REGS_PARM2(ctx);
    SUBMIT(ctx, &e);
    return 0;
}
#endif

#ifdef PROBE_VFIO_REMOVE
BPF_HASH(vfio_remove, u32, u32);   /* tid -> dev while vfio-pci's remove waits for the user */

int vfio_remove_enter(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx)), tid = cur_tid();
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_VFIO_REMOVE_ENTER, dev);
    SUBMIT(ctx, &e);
    vfio_remove.update(&tid, &dev);
    return 0;
}

int vfio_remove_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = vfio_remove.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_VFIO_REMOVE_EXIT, *dev);
    vfio_remove.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}
#endif
