/* Config-space access locking: pci_cfg_access_lock/_trylock/_unlock(dev). While a device is
 * locked, user config reads through vfio (pci_user_read_config_*) wait for the unlock. */
#ifdef PROBE_CFG_LOCK
#define CFG_LOCK    1
#define CFG_TRYLOCK 2
#define CFG_UNLOCK  3

BPF_HASH(trylock_stash, u32, u32);   /* tid -> dev */

static __always_inline int cfg_emit(struct pt_regs *ctx, u32 dev, u8 op, int with_ret)
{
    struct event e;

#ifdef HIST_N
    /* held from a lock (or a trylock that got it) to its unlock: accesses entering meanwhile keep their entry record;
     * a begin counts before the record's ts is taken (common.h ev_init) */
    if (op == CFG_LOCK || (with_ret && (PT_REGS_RC(ctx) & 0xff) == 1))
        busy_add(dev, 1);
#endif
    ev_init(&e, EV_CFG_LOCK, dev);
    e.fn = op;
    if (with_ret) {
        e.ret = PT_REGS_RC(ctx) & 0xff;   /* bool */
        e.flags |= F_RET;
    }
#ifdef HIST_N
    if (op == CFG_UNLOCK)
        busy_add(dev, -1);
#endif
    SUBMIT(ctx, &e);
    return 0;
}

int cfg_lock(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx));

    if (!dev_allowed(dev))
        return 0;
    return cfg_emit(ctx, dev, CFG_LOCK, 0);
}

int cfg_unlock(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx));

    if (!dev_allowed(dev))
        return 0;
    return cfg_emit(ctx, dev, CFG_UNLOCK, 0);
}

int cfg_trylock_enter(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx)), tid = cur_tid();

    if (dev_allowed(dev))
        trylock_stash.update(&tid, &dev);
    return 0;
}

int cfg_trylock_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = trylock_stash.lookup(&tid);
    u32 d;

    if (!dev)
        return 0;
    d = *dev;
    trylock_stash.delete(&tid);
    return cfg_emit(ctx, d, CFG_TRYLOCK, 1);
}
#endif
