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
    u32 dev;
    u32 size;
    u32 cmd;
    u32 write;
};
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
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
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
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
#endif

/* ---- vfio.rw: read/write(core_vdev, char __user *buf, size_t count, loff_t *ppos) ---- */
#ifdef PROBE_VFIO_RW
BPF_HASH(rw_stash, u32, struct vstash_t);

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

static __always_inline int rw_enter(struct pt_regs *ctx, u32 write)
{
    u32 dev = dev_key(vfio_pdev((void *)PT_REGS_PARM1(ctx))), tid = cur_tid();
    struct vstash_t st = {};
    struct event e;
    u64 pos = 0;

    if (!dev_allowed(dev))
        return 0;
#ifdef RW_WINDOW_NS
    {
        u32 zero = 0;
        u64 *until = rw_gate.lookup(&zero), *skipped;

        if (!until || bpf_ktime_get_ns() > *until) {
            skipped = rw_skipped.lookup(&zero);
            if (skipped)
                __sync_fetch_and_add(skipped, 1);
            return 0;   /* no stash: its exit is skipped too */
        }
    }
#endif
    bpf_probe_read_kernel(&pos, sizeof(pos), (void *)PT_REGS_PARM4(ctx));
    st.dev = dev;
    st.buf = PT_REGS_PARM2(ctx);
    st.size = (u32)PT_REGS_PARM3(ctx);
    st.pos = pos;
    st.write = write;
    ev_init(&e, EV_RW_ENTER, dev);
    e.fn = (u8)(pos >> VFIO_PCI_OFFSET_SHIFT);
    e.arg = pos & ((1ULL << VFIO_PCI_OFFSET_SHIFT) - 1);
    e.size = st.size;
    if (write) {
        e.flags |= F_WRITE;
        if (e.fn == VFIO_PCI_CONFIG_REGION_INDEX && read_user_val(st.buf, st.size, &e.val))
            e.flags |= F_VALUE;
    }
    events.perf_submit(ctx, &e, sizeof(e));
    rw_stash.update(&tid, &st);
    return 0;
}

static __always_inline int rw_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    struct vstash_t *st = rw_stash.lookup(&tid);
    struct event e;
    s64 ret = (long)PT_REGS_RC(ctx);

    if (!st)
        return 0;
    ev_init(&e, EV_RW_EXIT, st->dev);
    e.fn = (u8)(st->pos >> VFIO_PCI_OFFSET_SHIFT);
    e.arg = st->pos & ((1ULL << VFIO_PCI_OFFSET_SHIFT) - 1);
    e.size = st->size;
    e.ret = ret;
    e.flags |= F_RET;
    if (st->write) {
        e.flags |= F_WRITE;
    } else if (e.fn == VFIO_PCI_CONFIG_REGION_INDEX && ret > 0 && ret <= 4) {
        /* The value the user got, read back from its buffer now that the copy is done. */
        if (read_user_val(st->buf, (u32)ret, &e.val))
            e.flags |= F_VALUE;
    }
    rw_stash.delete(&tid);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}

int vfio_read_enter(struct pt_regs *ctx) { return rw_enter(ctx, 0); }
int vfio_write_enter(struct pt_regs *ctx) { return rw_enter(ctx, 1); }
int vfio_rw_exit(struct pt_regs *ctx) { return rw_exit(ctx); }
#endif

/* ---- vfio.open / vfio.close ---------------------------------------------- */
#ifdef PROBE_VFIO_OPEN
static __always_inline int open_close(struct pt_regs *ctx, u16 type)
{
    u32 dev = dev_key(vfio_pdev((void *)PT_REGS_PARM1(ctx)));
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, type, dev);
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
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
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
#endif
