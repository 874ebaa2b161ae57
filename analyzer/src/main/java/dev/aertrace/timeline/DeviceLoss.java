package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Topology;

/**
 * Device-loss episodes: all-ones reads, a removal, a hotplug or vfio request event, or a link down no episode
 * explains, on a device no open episode covers, with or without an AER error. Such an episode lasts while the
 * signs keep coming (each extends it by the settle window) and is bounded like any episode.
 */
final class DeviceLoss {
    /**
     * pciehp's attention button: the slot is disabled 5 s after the press unless it is pressed again
     * (pciehp_ctrl.c, pciehp_handle_button_press: schedule_delayed_work(&ctrl->button_work, 5 * HZ)).
     */
    static final long BUTTON_GRACE_NS = 5_000_000_000L;

    private final BuildState st;
    private final EpisodeCloser closer;

    DeviceLoss(BuildState st, EpisodeCloser closer) {
        this.st = st;
        this.closer = closer;
    }

    /** The open episode covering {@code dev}, or a new device-loss episode starting at {@code first}. */
    EpisodeDraft episodeOf(String dev, Event first) {
        for (EpisodeDraft b : st.open) if (b.affected.contains(dev)) return b;
        // A slot event on the port above a device whose loss is already an episode (its all-ones reads came first)
        // is the same loss: one episode, not one per device of the hierarchy.
        if (port(dev))
            for (EpisodeDraft b : st.open) if (b.deviceLoss && st.coversAny(dev, b)) return b;
        EpisodeDraft b = new EpisodeDraft(st.nextId++, first.ts(), -1, st.opt.maxEventsPerEpisode(), st.topo);
        b.device = dev;
        b.deviceLoss = true;
        b.bridge = st.topo.recoveryBridge(dev);
        b.cover(dev);
        if (st.lastGap != null && first.ts() - st.lastGapTs <= st.opt.preGapNs()) b.addGap(st.lastGap);
        Access before = st.lastCommandRead.get(dev);
        if (before != null) b.accesses.add(before);
        closer.admit(b, first);
        return b;
    }

    private boolean port(String dev) {
        return st.topo.get(dev).map(Topology.PciDevice::bridge).orElse(false);
    }

    void deviceGone(Event.DeviceGone g) {
        if (g.dev() == null) return;
        boolean port = port(g.dev());
        EpisodeDraft b = episodeOf(g.dev(), g);
        if (b.deviceLoss && port) b.coverBelow(g.dev());
        b.add(g);
        if (b.deviceLoss) {
            if (!port) {
                nameLost(b, g.dev());
                b.removing = true;
            }
            long until = g.ts() + st.opt.settleNs();
            // An orderly removal (QMP device_del, a button press) waits out pciehp's grace before the slot is
            // disabled: the removal that follows is the same loss.
            if ("hotplug.event".equals(g.type()) && g.what().contains("(button_press)")) until += BUTTON_GRACE_NS;
            b.closeAt = Math.max(b.closeAt == Long.MAX_VALUE ? 0 : b.closeAt, until);
        }
    }

    /** A device-loss episode names the device that is lost, not the port whose slot event told of it first. */
    void nameLost(EpisodeDraft b, String dev) {
        if (b.device != null && !b.device.equals(dev) && port(b.device) && st.topo.covers(b.device, dev))
            b.device = dev;
    }

    /**
     * The user's close of a device being removed, and the reset vfio-pci tries on that close, are the removal's own
     * steps (vfio_pci_remove waits for the close): they keep the device-loss episode open like the signs of the loss,
     * so the slot's final presence change after the release lands in it too.
     */
    void extendRemoval(Access a) {
        if (a.kind() != Access.Kind.CLOSE && a.kind() != Access.Kind.USER_RESET) return;
        long at = a.end() != null ? a.end() : a.start();
        for (EpisodeDraft b : st.open)
            if (b.deviceLoss && b.removing && b.affected.contains(a.dev())) b.closeAt = Math.max(b.closeAt, at + st.opt.settleNs());
    }

    /**
     * A link change on a port belongs to every open episode covering the port or a device below it (a host reset
     * of the port flaps its link: placed in the reset). A pciehp link down no episode explains is what it was
     * before link changes were placed: a sign the device is going away.
     */
    void linkChange(Event.LinkChange l) {
        if (l.dev() == null) return;
        boolean placed = false;
        for (EpisodeDraft o : st.open) {
            if (o.affected.contains(l.dev()) || st.coversAny(l.dev(), o)) {
                o.add(l);
                placed = true;
            }
        }
        if (!placed && l.type().equals("pci.hp_event") && Boolean.FALSE.equals(l.up())) {
            deviceGone(new Event.DeviceGone(l.common(), l.type(), "hotplug event LINK_DOWN on the port above it"));
        }
    }

    /** All-ones returned: the device may be gone; the loss episode lasts until the settle window after it. */
    void allOnes(Access a) {
        Event first = a.enter() != null ? a.enter() : a.exit();
        EpisodeDraft b = episodeOf(a.dev(), first);
        long end = a.end() != null ? a.end() : a.start();
        if (b.deviceLoss) nameLost(b, a.dev());
        if (b.deviceLoss) b.closeAt = Math.max(b.closeAt == Long.MAX_VALUE ? 0 : b.closeAt, end + st.opt.settleNs());
    }
}
