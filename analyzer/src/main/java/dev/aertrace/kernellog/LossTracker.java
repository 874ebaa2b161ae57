package dev.aertrace.kernellog;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Groups a kernel log's removal messages into device losses ({@link LogLoss}) the way the timeline groups a trace's:
 * a loss stays open while its signs keep coming, each keeping it open for the settle window (2 s, the timeline's
 * default), an attention-button press for pciehp's 5 s grace besides. Which device a slot's port loses is taken from
 * the log's own "PCI bridge to [bus NN-MM]" lines; a log without them (a console capture started late, a kernel
 * that did not print them) places a removed device below the port whose slot event came first, and says so.
 * Memory: the open losses (bounded) and one bus range per bridge (bounded).
 */
final class LossTracker {
    static final long SETTLE_NS = 2_000_000_000L;
    /** pciehp_handle_button_press: schedule_delayed_work(&ctrl->button_work, 5 * HZ). */
    static final long BUTTON_GRACE_NS = 5_000_000_000L;
    static final int MAX_OPEN = 64, MAX_BRIDGES = 4096;

    private final Map<String, int[]> buses = new HashMap<>();
    private final List<LogLoss> open = new ArrayList<>();
    private final Consumer<LogLoss> done;
    private long losses;

    LossTracker(Consumer<LogLoss> done) { this.done = done; }

    long count() { return losses; }

    /** "PCI bridge to [bus 01-04]" on {@code dev}. */
    void bridge(String dev, String sec, String sub) {
        if (buses.size() >= MAX_BRIDGES && !buses.containsKey(dev)) return;
        int s = Integer.parseInt(sec, 16);
        buses.put(dev, new int[] {s, sub == null ? s : Integer.parseInt(sub, 16)});
    }

    /** The deepest bridge of the same domain whose buses hold {@code dev}'s bus; null when the log named none. */
    String portOf(String dev) {
        int bus = Integer.parseInt(dev.substring(5, 7), 16);
        String best = null;
        int span = Integer.MAX_VALUE;
        for (Map.Entry<String, int[]> e : buses.entrySet()) {
            int[] r = e.getValue();
            if (!e.getKey().startsWith(dev.substring(0, 5)) || bus < r[0] || bus > r[1] || r[1] - r[0] >= span) continue;
            best = e.getKey();
            span = r[1] - r[0];
        }
        return best;
    }

    /** A pciehp slot message on {@code port}: {@code kind} is the handler the trace would name. */
    void slot(String port, String kind, String quote, LogLine l, long line, int boot) {
        boolean back = kind == null;
        LogLoss loss = forPort(port);
        if (back || kind.equals("cancel")) {
            // the card or link coming back, a press taken back: part of a loss already told, never one of its own
            if (loss == null) return;
            loss.note(back ? "the slot's " + quote + " (line " + line + ")" : "the button press was taken back: \"" + quote
                    + "\" (line " + line + "): pciehp leaves the slot powered");
            if (!back) {
                loss.canceled = true;
                loss.closeAt = l.ts() + SETTLE_NS;
            }
            return;
        }
        if (loss == null) loss = start(port, l, line, boot);
        long until = l.ts() + SETTLE_NS;
        if (kind.equals("button_press")) {
            until += BUTTON_GRACE_NS;
            if (loss.button && !loss.canceled) {
                loss.note("\"" + quote + "\" (line " + line + "): pciehp powers the slot off 5 s after the press unless it is pressed again");
                loss.closeAt = Math.max(loss.closeAt, until);
                return;
            }
            loss.button = true;
            loss.canceled = false;
        }
        LogLoss.Item same = loss.sameSlotEvent(kind, port);
        if (same != null && l.ts() - same.ts() <= 1_000_000L) {
            loss.items.set(loss.items.size() - 1, new LogLoss.Item(same.type(), same.dev(), same.ts(), same.line(),
                    same.what().substring(0, same.what().length() - 1) + ", \"" + quote + "\")"));
        } else {
            loss.add(new LogLoss.Item("hotplug.event", port, l.ts(), line, "pciehp logged a slot event (" + kind
                    + ") on the port above it (\"" + quote + "\")"));
        }
        loss.closeAt = Math.max(loss.closeAt, until);
    }

    /** vfio-pci's request to the user, or the device leaving its IOMMU group: the device itself is going. */
    void device(String dev, Patterns.Role role, String quote, LogLine l, long line, int boot) {
        LogLoss loss = forDevice(dev);
        if (loss == null) {
            loss = start(portOf(dev), l, line, boot);
            loss.devices.add(dev);
        }
        String what;
        if (role == Patterns.Role.DEVICE_REQUEST) {
            loss.requested = true;
            what = quote.startsWith("Relaying")
                    ? "vfio-pci asked the user to release the device (device request IRQ) (\"" + quote + "\")"
                    : "vfio-pci has no request channel from the user: the removal waits until the user lets go (\"" + quote + "\")";
        } else {
            loss.removed = true;
            what = "the kernel removed the device: it left its IOMMU group (\"" + quote + "\")";
        }
        loss.add(new LogLoss.Item(role == Patterns.Role.DEVICE_REQUEST ? "vfio.request" : "iommu.remove", dev, l.ts(), line, what));
        loss.closeAt = Math.max(loss.closeAt, l.ts() + SETTLE_NS);
    }

    /** Losses whose window closed before {@code ts} are over. */
    void due(long ts) {
        for (LogLoss c : new ArrayList<>(open)) if (ts > c.closeAt) finish(c);
    }

    void finishAll() {
        for (LogLoss c : new ArrayList<>(open)) finish(c);
    }

    private LogLoss start(String port, LogLine l, long line, int boot) {
        if (open.size() >= MAX_OPEN) finish(open.get(0));
        LogLoss loss = new LogLoss(port, l.ts(), line, l.resolutionNs(), boot, l.realtimeNs() == null ? null : l.realtimeNs() - l.ts());
        open.add(loss);
        losses++;
        return loss;
    }

    private LogLoss forPort(String port) {
        for (LogLoss c : open) if (port.equals(c.port)) return c;
        // a device's removal logged first (its port unknown then): the port's slot event is the same loss
        for (LogLoss c : open) if (c.port == null && c.device() != null && port.equals(portOf(c.device()))) {
            c.port = port;
            return c;
        }
        return null;
    }

    private LogLoss forDevice(String dev) {
        for (LogLoss c : open) if (c.devices.contains(dev)) return c;
        String port = portOf(dev);
        for (LogLoss c : open) {
            if (c.port == null || (port != null && !port.equals(c.port))) continue;
            if (port == null) c.placedByTime = true;
            c.devices.add(dev);
            return c;
        }
        return null;
    }

    private void finish(LogLoss c) {
        open.remove(c);
        if (!c.items.isEmpty()) done.accept(c);
    }
}
