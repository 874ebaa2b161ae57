package dev.aertrace.kernellog;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceHeader;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A device loss as a kernel log tells it: pciehp's slot events on a port (an attention-button press, "Link Down",
 * "Card not present"), vfio-pci's request to the device's user, the device leaving its IOMMU group. Handed on as
 * the same {@code DeviceGone} events an agent's trace has ({@code hotplug.event}, {@code vfio.request}), so the
 * timeline builds the same device-loss episode, named by the lost device, with the port as its bridge.
 */
final class LogLoss implements LogStory {
    static final int MAX_ITEMS = 256, MAX_NOTES = 32;

    /** One logged sign of the loss; {@code what} in the trace's words, with the log's own line quoted. */
    record Item(String type, String dev, long ts, long line, String what) {}

    /** The slot's port (null: the log names no port above the device) and the lost devices, first one first. */
    String port;
    final List<String> devices = new ArrayList<>();
    /** A device was put below {@link #port} because its removal followed the slot event, not from the log's buses. */
    boolean placedByTime;
    final long ts, line, resolutionNs;
    final int boot;
    final Long realtimeOffset;
    long closeAt;
    boolean button, canceled, requested, removed;
    final List<Item> items = new ArrayList<>();
    final List<String> notes = new ArrayList<>();

    LogLoss(String port, long ts, long line, long resolutionNs, int boot, Long realtimeOffset) {
        this.port = port;
        this.ts = ts;
        this.line = line;
        this.resolutionNs = resolutionNs;
        this.boot = boot;
        this.realtimeOffset = realtimeOffset;
        this.closeAt = ts;
    }

    @Override
    public Long wallOffset() { return realtimeOffset; }

    String device() { return devices.isEmpty() ? null : devices.get(0); }

    void add(Item i) {
        if (items.size() < MAX_ITEMS) items.add(i);
    }

    void note(String s) {
        if (notes.size() < MAX_NOTES) notes.add(s);
    }

    /** The last item, when it is the same kind of slot event on the same port (pciehp prints "Link Down" and "Card not present" for one event). */
    Item sameSlotEvent(String kind, String dev) {
        if (items.isEmpty()) return null;
        Item last = items.get(items.size() - 1);
        return last.type().equals("hotplug.event") && last.dev().equals(dev) && last.what().contains("(" + kind + ")") ? last : null;
    }

    TraceHeader header(KernelLogReader.Stats stats) {
        Map<String, Topology.PciDevice> devs = new LinkedHashMap<>();
        if (port != null) devs.put(port, LogEvents.port(port, null));
        for (String d : devices) devs.putIfAbsent(d, LogEvents.endpoint(d, port));
        return LogEvents.header(devs, stats, line);
    }

    List<Event> events() {
        int tid = LogEvents.tid(port != null ? port : device());
        List<Event> out = new ArrayList<>(items.size());
        for (Item i : items) out.add(new Event.DeviceGone(LogEvents.common(i.ts(), tid, i.dev(), i.line()), i.type(), i.what()));
        return out;
    }
}
