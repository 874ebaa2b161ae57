/* Link state (7.0+): pci:pci_hp_event (hotplug slot: link up/down, card present/not present) and
 * pci:pcie_link_event (link speed/width/status updates, e.g. after a retrain). Both carry the port's
 * name, parsed here so the device filter applies. A host reset of a port shows as a link flap. */

#ifdef PROBE_PCI_HP
TRACEPOINT_PROBE(pci, pci_hp_event)
{
    char name[16] = {};
    struct event e;
    u32 key;

    TP_DATA_LOC_READ_CONST(name, port_name, sizeof(name));
    key = parse_pci_name(name);
    if (key != NODEV && !dev_allowed(key))
        return 0;
    ev_init(&e, EV_PCI_HP, key);
    e.val = (u32)args->event;
    TP_DATA_LOC_READ_CONST(e.driver, slot, sizeof(e.driver));   /* the slot's name */
    SUBMIT(args, &e);
    return 0;
}
#endif

#ifdef PROBE_PCIE_LINK
TRACEPOINT_PROBE(pci, pcie_link_event)
{
    char name[16] = {};
    struct event e;
    u32 key;

    TP_DATA_LOC_READ_CONST(name, port_name, sizeof(name));
    key = parse_pci_name(name);
    if (key != NODEV && !dev_allowed(key))
        return 0;
    ev_init(&e, EV_LINK, key);
    e.arg = args->reason;
    e.val = args->link_status;
    e.size = args->width;
    e.tlp[0] = args->cur_bus_speed;
    e.tlp[1] = args->max_bus_speed;
    e.tlp[2] = args->type;
    e.tlp[3] = args->flit_mode;
    SUBMIT(args, &e);
    return 0;
}
#endif
