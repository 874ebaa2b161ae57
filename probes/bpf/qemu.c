/* QEMU, the vfio user itself (uprobes on the binary named with --qemu): the guest's config
 * accesses as QEMU serves them, its BAR accesses through vfio regions, and the VM's run state
 * (vm_stop on the error notification, runstate_set, qemu_system_reset). No PCI device is known
 * here (QEMU's structures are not ABI): these events carry no dev; the analyzer joins them to the
 * host's device by the process (the same pid's vfio.rw events name it). */
#if defined(PROBE_QEMU_CFG) || defined(PROBE_QEMU_REGION)
struct qstash_t {
    u64 addr;
    u32 size;
    u32 val;
    u32 write;
};
BPF_HASH(qemu_stash, u64, struct qstash_t);   /* tid << 1 | kind (0 config, 1 region) */

static __always_inline int q_enter(struct pt_regs *ctx, u16 type, int region, u64 addr, u32 size, u32 val, int write)
{
    u64 key = (u64)cur_tid() << 1 | region;
    struct qstash_t st = {};
    struct event e;

    st.addr = addr;
    st.size = size;
    st.val = val;
    st.write = write;
    qemu_stash.update(&key, &st);
    ev_init(&e, type, NODEV);
    e.arg = addr;
    e.size = size;
    if (write) {
        e.flags |= F_WRITE | F_VALUE;
        e.val = val;
    }
    SUBMIT_ACCESS(ctx, &e);
    return 0;
}

static __always_inline int q_exit(struct pt_regs *ctx, u16 type, int region)
{
    u64 key = (u64)cur_tid() << 1 | region;
    struct qstash_t *st = qemu_stash.lookup(&key);
    struct event e;

    if (!st)
        return 0;
    ev_init(&e, type, NODEV);
    e.arg = st->addr;
    e.size = st->size;
    if (st->write) {
        e.flags |= F_WRITE;
    } else {
        e.val = (u32)PT_REGS_RC(ctx);   /* the value QEMU returns to the guest (low 32 bits) */
        e.flags |= F_VALUE;
    }
    qemu_stash.delete(&key);
    SUBMIT_ACCESS(ctx, &e);
    return 0;
}
#endif

#ifdef PROBE_QEMU_CFG
/* uint32_t vfio_pci_read_config(PCIDevice *pdev, uint32_t addr, int len)
 * void vfio_pci_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val, int len) */
int qemu_cfg_read_enter(struct pt_regs *ctx)
{
    return q_enter(ctx, EV_QEMU_CFG_ENTER, 0, (u32)PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM3(ctx), 0, 0);
}
int qemu_cfg_write_enter(struct pt_regs *ctx)
{
    return q_enter(ctx, EV_QEMU_CFG_ENTER, 0, (u32)PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM4(ctx),
                   (u32)PT_REGS_PARM3(ctx), 1);
}
int qemu_cfg_exit(struct pt_regs *ctx) { return q_exit(ctx, EV_QEMU_CFG_EXIT, 0); }
#endif

#ifdef PROBE_QEMU_REGION
/* uint64_t vfio_region_read(void *opaque, hwaddr addr, unsigned size)
 * void vfio_region_write(void *opaque, hwaddr addr, uint64_t data, unsigned size) */
int qemu_region_read_enter(struct pt_regs *ctx)
{
    return q_enter(ctx, EV_QEMU_REGION_ENTER, 1, PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM3(ctx), 0, 0);
}
int qemu_region_write_enter(struct pt_regs *ctx)
{
    return q_enter(ctx, EV_QEMU_REGION_ENTER, 1, PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM4(ctx),
                   (u32)PT_REGS_PARM3(ctx), 1);
}
int qemu_region_exit(struct pt_regs *ctx) { return q_exit(ctx, EV_QEMU_REGION_EXIT, 1); }
#endif

#ifdef PROBE_QEMU_RUNSTATE
/* void vm_stop(RunState state) / int vm_stop(RunState) (7.x); void runstate_set(RunState);
 * void qemu_system_reset(ShutdownCause reason): the enum value in val */
static __always_inline int q_state(struct pt_regs *ctx, u16 type)
{
    struct event e;

    ev_init(&e, type, NODEV);
    e.val = (u32)PT_REGS_PARM1(ctx);
    SUBMIT(ctx, &e);
    return 0;
}
int qemu_vm_stop(struct pt_regs *ctx) { return q_state(ctx, EV_QEMU_VM_STOP); }
int qemu_runstate_set(struct pt_regs *ctx) { return q_state(ctx, EV_QEMU_RUNSTATE); }
int qemu_system_reset(struct pt_regs *ctx) { return q_state(ctx, EV_QEMU_RESET); }
#endif
