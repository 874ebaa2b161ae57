/* AER and recovery: ras:aer_event, pcie_do_recovery, the per-device report_* callbacks. */

/* ---- aer.event: tracepoint ras:aer_event -------------------------------- */
#ifdef PROBE_AER_EVENT
/* The prototype changed in 4.17 (TLP header added) and 6.10 (struct pcie_tlp_log); the
 * recorded fields did not: bcc builds args from the tracepoint's format file, and the
 * agent defines AER_TP_TLP when that format has tlp_header_valid. */
TRACEPOINT_PROBE(ras, aer_event)
{
    char name[16] = {};
    struct event e;
    u32 key;

    TP_DATA_LOC_READ_CONST(name, dev_name, sizeof(name));
    key = parse_pci_name(name);
    if (key != NODEV && !dev_allowed(key))
        return 0;
    ev_init(&e, EV_AER, key);
    e.val = args->status;
    e.sev = args->severity;
#ifdef AER_TP_TLP
    if (args->tlp_header_valid) {
        e.flags |= F_TLP;
        e.tlp[0] = args->tlp_header[0];
        e.tlp[1] = args->tlp_header[1];
        e.tlp[2] = args->tlp_header[2];
        e.tlp[3] = args->tlp_header[3];
    }
#endif
    SUBMIT(args, &e);
    return 0;
}
#endif

/* ---- recovery: pcie_do_recovery(dev, state, reset_cb) -------------------- */
#ifdef PROBE_RECOVERY
BPF_HASH(rec_stash, u32, u32);   /* tid -> dev */

static __always_inline int rec_enter(struct pt_regs *ctx, int with_state)
{
    struct pci_dev *pdev = (struct pci_dev *)PT_REGS_PARM1(ctx);
    u32 dev = dev_key(pdev), tid = cur_tid();
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_REC_ENTER, dev);
    if (with_state) {
        e.state = (u8)PT_REGS_PARM2(ctx);
        e.flags |= F_STATE;
    }
    SUBMIT(ctx, &e);
    rec_stash.update(&tid, &dev);
    return 0;
}

static __always_inline int rec_exit(struct pt_regs *ctx, int with_ret)
{
    u32 tid = cur_tid();
    u32 *dev = rec_stash.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_REC_EXIT, *dev);
    if (with_ret) {
        e.ret = (int)PT_REGS_RC(ctx);
        e.flags |= F_RET;
    }
    rec_stash.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}

int recovery_enter(struct pt_regs *ctx) { return rec_enter(ctx, 1); }          /* >= 4.20 */
int recovery_enter_nostate(struct pt_regs *ctx) { return rec_enter(ctx, 0); }  /* 4.18-4.19 */
int recovery_exit(struct pt_regs *ctx) { return rec_exit(ctx, 1); }            /* >= 5.7 returns pci_ers_result_t */
int recovery_exit_void(struct pt_regs *ctx) { return rec_exit(ctx, 0); }       /* < 5.7 void */
#endif

/* ---- callbacks: report_error_detected / mmio_enabled / slot_reset / resume ---- */
#ifdef PROBE_CALLBACKS
#define CB_ERROR_DETECTED 1
#define CB_MMIO_ENABLED   2
#define CB_SLOT_RESET     3
#define CB_RESUME         4

struct cb_stash_t {
    u64 result;     /* enum pci_ers_result * the walk merges into */
    u32 dev;
};
BPF_HASH(cb_stash, u64, struct cb_stash_t);   /* tid << 8 | cb -> entry */

static __always_inline int cb_enter(struct pt_regs *ctx, struct pci_dev *pdev, u8 cb, int state, u64 result)
{
    u32 dev = dev_key(pdev);
    u64 key = (u64)cur_tid() << 8 | cb;
    struct cb_stash_t st = {};
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_CB_ENTER, dev);
    e.fn = cb;
    if (state) {
        e.state = state;
        e.flags |= F_STATE;
    }
    read_driver(pdev, e.driver);
    SUBMIT(ctx, &e);
    st.result = result;
    st.dev = dev;
    cb_stash.update(&key, &st);
    return 0;
}

static __always_inline int cb_exit(struct pt_regs *ctx, u8 cb)
{
    u64 key = (u64)cur_tid() << 8 | cb;
    struct cb_stash_t *st = cb_stash.lookup(&key);
    struct event e;
    u32 res = 0;

    if (!st)
        return 0;
    ev_init(&e, EV_CB_EXIT, st->dev);
    e.fn = cb;
    if (st->result && bpf_probe_read_kernel(&res, sizeof(res), (void *)st->result) == 0) {
        e.val = res;
        e.flags |= F_RESULT;
    }
    cb_stash.delete(&key);
    SUBMIT(ctx, &e);
    return 0;
}

/* >= 4.20: report_error_detected(dev, state, result *); the wrappers report_{frozen,normal}_detected(dev, data)
 * are used where that helper is inlined (6.12). Other report_*(dev, data): data is the result pointer. */
int cb_error_detected(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_ERROR_DETECTED,
                    (int)PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx));
}
int cb_frozen_detected(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_ERROR_DETECTED, 2, PT_REGS_PARM2(ctx));
}
int cb_normal_detected(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_ERROR_DETECTED, 1, PT_REGS_PARM2(ctx));
}
/* report_perm_failure_detected(dev, NULL): recovery failed, drivers are told perm_failure (3). */
int cb_perm_failure_detected(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_ERROR_DETECTED, 3, PT_REGS_PARM2(ctx));
}
int cb_mmio_enabled(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_MMIO_ENABLED, 0, PT_REGS_PARM2(ctx));
}
int cb_slot_reset(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_SLOT_RESET, 0, PT_REGS_PARM2(ctx));
}
int cb_resume(struct pt_regs *ctx)
{
    return cb_enter(ctx, (struct pci_dev *)PT_REGS_PARM1(ctx), CB_RESUME, 0, PT_REGS_PARM2(ctx));
}
int cb_exit_error_detected(struct pt_regs *ctx) { return cb_exit(ctx, CB_ERROR_DETECTED); }
int cb_exit_mmio_enabled(struct pt_regs *ctx) { return cb_exit(ctx, CB_MMIO_ENABLED); }
int cb_exit_slot_reset(struct pt_regs *ctx) { return cb_exit(ctx, CB_SLOT_RESET); }
int cb_exit_resume(struct pt_regs *ctx) { return cb_exit(ctx, CB_RESUME); }
#endif
