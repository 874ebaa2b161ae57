/* Device loss: pciehp's slot events and the PCI removal path (hotplug.*, pci.remove.*).
 * vfio-pci's side of a removal (its device request to the user, vfio.request, and its remove
 * callback, vfio.remove.*) is in vfio.c, which has the vfio argument helpers. */
#if defined(PROBE_HOTPLUG_EVENT) || defined(PROBE_HOTPLUG_UNCONF)
/* pciehp's struct controller (drivers/pci/hotplug/pciehp.h, not a public header) begins with
 * struct pcie_device *pcie, and struct pcie_device (drivers/pci/pcie/portdrv.h) is
 * { int irq; struct pci_dev *port; ... }: the port sits at offset 8 on 64-bit. Both layouts are
 * unchanged from 4.19 to 7.x; the lab traces show the right port on every kernel recorded. */
static __always_inline u32 pciehp_port_key(void *ctrl)
{
    void *pcie = NULL;
    struct pci_dev *port = NULL;

    if (!ctrl)
        return NODEV;
    bpf_probe_read_kernel(&pcie, sizeof(pcie), ctrl);
    if (!pcie)
        return NODEV;
    bpf_probe_read_kernel(&port, sizeof(port), (char *)pcie + 8);
    return dev_key(port);
}
#endif

#ifdef PROBE_HOTPLUG_EVENT
/* fn: 1 presence_or_link_change (val = the Slot Status events: PDC 0x8, DLLSC 0x100, ...),
 * 2 button_press, 3 disable_request. pciehp_handle_disable_request(ctrl) has no second argument (it
 * always disables the slot with SAFE_REMOVAL, which the kernel defines as true): nothing more to record. */
static __always_inline int hp_event(struct pt_regs *ctx, u8 fn, u32 val)
{
    u32 dev = pciehp_port_key((void *)PT_REGS_PARM1(ctx));
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_HP_EVENT, dev);
    e.fn = fn;
    e.val = val;
    SUBMIT(ctx, &e);
    return 0;
}

int hp_presence(struct pt_regs *ctx) { return hp_event(ctx, 1, (u32)PT_REGS_PARM2(ctx)); }
int hp_button(struct pt_regs *ctx) { return hp_event(ctx, 2, 0); }
int hp_disable(struct pt_regs *ctx) { return hp_event(ctx, 3, 0); }
#endif

#ifdef PROBE_HOTPLUG_UNCONF
BPF_HASH(hp_unconf, u32, u32);   /* tid -> port while pciehp_unconfigure_device runs */

int hp_unconf_enter(struct pt_regs *ctx)
{
    u32 dev = pciehp_port_key((void *)PT_REGS_PARM1(ctx)), tid = cur_tid();
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_HP_UNCONF_ENTER, dev);
    e.state = (u8)(PT_REGS_PARM2(ctx) & 1);   /* bool presence: the card is still there */
    e.flags |= F_STATE;
    SUBMIT(ctx, &e);
    hp_unconf.update(&tid, &dev);
    return 0;
}

int hp_unconf_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = hp_unconf.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_HP_UNCONF_EXIT, *dev);
    hp_unconf.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}
#endif

#ifdef PROBE_PCI_REMOVE
BPF_HASH(pci_remove, u32, u32);  /* tid -> device while pci_stop_and_remove_bus_device runs */

int pci_remove_enter(struct pt_regs *ctx)
{
    u32 dev = dev_key((struct pci_dev *)PT_REGS_PARM1(ctx)), tid = cur_tid();
    struct event e;

    if (!dev_allowed(dev))
        return 0;
    ev_init(&e, EV_PCI_REMOVE_ENTER, dev);
    SUBMIT(ctx, &e);
    pci_remove.update(&tid, &dev);
    return 0;
}

int pci_remove_exit(struct pt_regs *ctx)
{
    u32 tid = cur_tid();
    u32 *dev = pci_remove.lookup(&tid);
    struct event e;

    if (!dev)
        return 0;
    ev_init(&e, EV_PCI_REMOVE_EXIT, *dev);
    pci_remove.delete(&tid);
    SUBMIT(ctx, &e);
    return 0;
}
#endif
