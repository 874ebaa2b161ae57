package dev.aertrace.ingest;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.SortedSet;

/** The header's device tree. A reset on bridge B covers every device whose parent chain reaches B. */
public final class Topology {
    /**
     * One {@code topology[]} entry. {@code parent} is the upstream bridge, null on a root bus; {@code aerCap} the
     * AER capability's config-space offset when the agent could read it (null otherwise).
     */
    public record PciDevice(String dev, String vendor, String device, String cls, String driver,
                            String parent, boolean bridge, Integer iommuGroup, boolean aer, Integer aerCap) {}

    public static final Topology EMPTY = new Topology(List.of());

    private final Map<String, PciDevice> byName = new LinkedHashMap<>();
    private final Map<String, SortedSet<String>> belowMemo = new java.util.concurrent.ConcurrentHashMap<>();

    public Topology(Collection<PciDevice> devices) {
        for (PciDevice d : devices) byName.put(d.dev(), d);
    }

    public Optional<PciDevice> get(String dev) { return Optional.ofNullable(byName.get(dev)); }

    public Collection<PciDevice> devices() { return byName.values(); }

    public boolean isEmpty() { return byName.isEmpty(); }

    public boolean contains(String dev) { return byName.containsKey(dev); }

    /** True when {@code dev} is {@code bridge} or below it. Unknown devices are below nothing but themselves. */
    public boolean covers(String bridge, String dev) {
        String d = dev;
        for (int guard = 0; d != null && guard < 64; guard++) {
            if (d.equals(bridge)) return true;
            PciDevice p = byName.get(d);
            d = p == null ? null : p.parent();
        }
        return false;
    }

    /** Every known device below {@code bridge} (not the bridge itself), sorted. */
    public SortedSet<String> below(String bridge) {
        // Memoised: every recovery and reset asks, and a header may list thousands of devices.
        SortedSet<String> memo = belowMemo.get(bridge);
        if (memo != null) return memo;
        SortedSet<String> out = new TreeSet<>();
        for (PciDevice d : byName.values()) if (!d.dev().equals(bridge) && covers(bridge, d.dev())) out.add(d.dev());
        out = java.util.Collections.unmodifiableSortedSet(out);
        if (belowMemo.size() < 4096) belowMemo.put(bridge, out);
        return out;
    }

    /**
     * The bridge whose secondary bus pcie_do_recovery resets for an error on {@code dev}: the device itself
     * when it is a root or downstream port, else its upstream bridge (the kernel's pci_upstream_bridge: an
     * endpoint's port, or for a switch's upstream port the root/downstream port above it). Null if unknown.
     */
    public String recoveryBridge(String dev) {
        PciDevice d = byName.get(dev);
        if (d == null) return null;
        return d.bridge() && facesDown(d) ? d.dev() : d.parent();
    }

    /**
     * A root port or a switch's downstream port (pcie_do_recovery resets below the port itself), as opposed to a
     * switch's upstream port or a PCIe-to-PCI bridge (the kernel takes pci_upstream_bridge: the port above). The
     * header carries no port type, so it is told by depth: bridges alternate down (root port, on a root bus) / up
     * (upstream port) / down (downstream port) / … on every PCIe path.
     */
    private boolean facesDown(PciDevice d) {
        int bridgesAbove = 0;
        for (String p = d.parent(); p != null && bridgesAbove < 64; bridgesAbove++) {
            PciDevice q = byName.get(p);
            p = q == null ? null : q.parent();
        }
        return bridgesAbove % 2 == 0;
    }

    /** Parent chain from {@code dev} up to the root, starting with dev. */
    public List<String> chain(String dev) {
        List<String> out = new ArrayList<>();
        String d = dev;
        for (int guard = 0; d != null && guard < 64; guard++) {
            out.add(d);
            PciDevice p = byName.get(d);
            d = p == null ? null : p.parent();
        }
        return out;
    }
}
