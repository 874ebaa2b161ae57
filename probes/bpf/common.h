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

/* flags: which optional fields are valid */
#define F_RET    0x01
#define F_VALUE  0x02
#define F_WRITE  0x04
#define F_TLP    0x08
#define F_STATE  0x10
#define F_RESULT 0x20

#define NODEV 0xffffffff

/* One record for every event type, 104 bytes; meaning of the generic fields per type in encode.py. */
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
    u8 pad[2];
    char comm[16];
    char driver[16]; /* bound driver name for callbacks */
};

BPF_PERF_OUTPUT(events);
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

#ifdef RW_WINDOW_NS
/* --rw-window: vfio region reads/writes are recorded only while the filtered hierarchy shows error
 * or reset activity, and for RW_WINDOW_NS after the last of it; the rest are counted in rw_skipped.
 * rw_gate[0] = CLOCK_MONOTONIC ns until which the window is open. */
BPF_ARRAY(rw_gate, u64, 1);
BPF_ARRAY(rw_skipped, u64, 1);
#endif

static __always_inline void ev_init(struct event *e, u16 type, u32 dev)
{
    u64 id = bpf_get_current_pid_tgid();

    __builtin_memset(e, 0, sizeof(*e));
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->type = type;
    e->dev = dev;
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
#ifdef RW_WINDOW_NS
    /* every event but the user's own accesses (vfio's and, through QEMU, the guest's) (re)opens the window */
    if (type != EV_RW_ENTER && type != EV_RW_EXIT && type != EV_IOCTL_ENTER && type != EV_IOCTL_EXIT &&
        type != EV_OPEN && type != EV_CLOSE && (type < EV_QEMU_CFG_ENTER || type > EV_QEMU_REGION_EXIT)) {
        u32 zero = 0;
        u64 until = e->ts + RW_WINDOW_NS;
        rw_gate.update(&zero, &until);
    }
#endif
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
