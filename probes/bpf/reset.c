/* Resets: the host's link/bus reset during recovery (reset.*) and resets a user asks for
 * through vfio (user_reset.*). Every function gets its own small entry/exit pair so the
 * exit knows which function returned (kprobes have no cookie before 5.15/6.0). The agent
 * reads the RESET_FN/USER_RESET_FN lines below to name the ids. */
#if defined(PROBE_RESET) || defined(PROBE_USER_RESET)
BPF_HASH(reset_stash, u64, u32);   /* tid << 8 | fn id -> dev; resets nest on one thread */

static __always_inline int reset_enter(struct pt_regs *ctx, struct pci_dev *pdev, u8 fn, u16 type)
{
    u32 dev = dev_key(pdev);
    u64 key = (u64)cur_tid() << 8 | fn;
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, type, dev);
    e.fn = fn;
    events.perf_submit(ctx, &e, sizeof(e));
    reset_stash.update(&key, &dev);
    return 0;
}

static __always_inline int reset_exit(struct pt_regs *ctx, u8 fn, u16 type, int with_ret)
{
    u64 key = (u64)cur_tid() << 8 | fn;
    u32 *dev = reset_stash.lookup(&key);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, type, *dev);
    e.fn = fn;
    if (with_ret) {
        e.ret = (int)PT_REGS_RC(ctx);
        e.flags |= F_RET;
    }
    reset_stash.delete(&key);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}

/* RESET_FN(symbol, id, returns_value): reset_enter__symbol / reset_exit__symbol */
#define RESET_FN(sym, id, has_ret)                                                        \
    int reset_enter__##sym(struct pt_regs *ctx)                                           \
    { return reset_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), id, EV_RESET_ENTER); } \
    int reset_exit__##sym(struct pt_regs *ctx)                                            \
    { return reset_exit(ctx, id, EV_RESET_EXIT, has_ret); }
#define USER_RESET_FN(sym, id, has_ret)                                                   \
    int ureset_enter__##sym(struct pt_regs *ctx)                                          \
    { return reset_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), id, EV_URESET_ENTER); } \
    int ureset_exit__##sym(struct pt_regs *ctx)                                           \
    { return reset_exit(ctx, id, EV_URESET_EXIT, has_ret); }
#endif

#ifdef PROBE_RESET
RESET_FN(aer_root_reset, 1, 1)
RESET_FN(dpc_reset_link, 2, 1)
RESET_FN(pci_bus_error_reset, 3, 1)
RESET_FN(pci_reset_secondary_bus, 4, 0)
RESET_FN(pci_bridge_secondary_bus_reset, 5, 1)
RESET_FN(pci_reset_bridge_secondary_bus, 6, 0)

/* pcie_reset_flr(dev, probe): probe != 0 only asks whether FLR is possible; not a reset. */
int reset_enter__pcie_reset_flr(struct pt_regs *ctx)
{
    if (PT_REGS_PARM2(ctx) & 0xff)
        return 0;
    return reset_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), 7, EV_RESET_ENTER);
}
int reset_exit__pcie_reset_flr(struct pt_regs *ctx) { return reset_exit(ctx, 7, EV_RESET_EXIT, 1); }
/* RESET_FN(pcie_reset_flr, 7, 1) -- written out above */
#endif

#ifdef PROBE_USER_RESET
USER_RESET_FN(pci_try_reset_function, 16, 1)
USER_RESET_FN(pci_reset_function, 17, 1)
USER_RESET_FN(pci_reset_bus, 18, 1)
#endif
