package dev.aertrace.kernellog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel-log message catalog (kernel-log-patterns.json beside this class): which AER/recovery messages each
 * kernel prints, as data, like probes/catalog.json is for the probes. The code knows only the roles.
 */
final class Patterns {

    /** What the reader does with a matched message. */
    enum Role {
        /** aer_print_port_info / aer_print_source: an error message reached a port; starts an error. */
        ERROR_SOURCE,
        /** "PCIe Bus Error: severity=..., type=..., (agent)" on the erring device. */
        ERROR_SEVERITY,
        /** "device [vvvv:dddd] error status/mask=SSSSSSSS/MMMMMMMM". */
        ERROR_STATUS,
        /** "[ 4] DLP (First)": one status bit by name. */
        ERROR_BIT,
        /** "TLP Header: ...". */
        ERROR_TLP,
        /** pcie_do_recovery's "broadcast X message" (pci_dbg: only with dynamic debug on). */
        BROADCAST,
        /** aer_root_reset's "Root/Downstream Port link has been reset (rc)". */
        RESET_LINK,
        /** pcie_do_recovery's "subordinate device reset failed". */
        RESET_FAILED,
        /** pcie_do_recovery's "device recovery successful|failed". */
        RESULT,
        /** report_error_detected's "can't recover (no error_detected callback)". */
        NO_CALLBACK,
        /** dpc_process_error / dpc_handler: "DPC: containment event ...". */
        DPC_CONTAINMENT,
        /** pcie_wait_for_link_delay's "Data Link Layer Link Active not set in N msec": the reset's link wait failed. */
        LINK_WAIT,
        /** pciehp link or presence change ("Link Down", "Card not present"; "Link Up", "Card present"). */
        HOTPLUG,
        /** pciehp's attention button: a press (an orderly removal: the slot is powered off 5 s later) or its cancel. */
        SLOT_BUTTON,
        /** vfio-pci asks the device's user to release it (vfio_pci_core_request): the host is removing it. */
        DEVICE_REQUEST,
        /** The device is gone from the kernel ("Removing from iommu group": iommu_release_device on removal). */
        DEVICE_REMOVED,
        /** "PCI bridge to [bus NN-MM]": which buses lie below a bridge (the log's own topology). */
        BRIDGE,
        /** The 2025 AER ratelimit: "aer_ratelimit: N callbacks suppressed". */
        RATELIMIT,
        /** vfio-pci/pci core reset messages on a device. */
        DEVICE_RESET
    }

    /** {@code seenOn}: the kernels whose committed lab logs have the message ("seen": true = all of {@code kernels}). */
    record Entry(String id, Role role, List<String> kernels, boolean debug, boolean devicePrefix, String source,
                 Pattern regex, List<String> examples, List<String> seenOn) {
        Matcher match(String text) {
            Matcher m = regex.matcher(text);
            return m.matches() ? m : null;
        }
    }

    /** "<driver> <domain:bus:dev.fn>[:<service>]: <text>" as dev_printk builds it. */
    static final Pattern PREFIX = Pattern.compile(
            "^([\\w.-]{1,64}) ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7])(?::[\\w-]{1,32})?: (.*)$");

    final List<String> kernels;
    final List<Entry> entries;

    private Patterns(List<String> kernels, List<Entry> entries) {
        this.kernels = kernels;
        this.entries = entries;
    }

    private static volatile Patterns builtin;

    static Patterns builtin() {
        Patterns p = builtin;
        if (p == null) {
            try (InputStream in = Patterns.class.getResourceAsStream("kernel-log-patterns.json")) {
                if (in == null) throw new IllegalStateException("kernel-log-patterns.json missing from the jar");
                builtin = p = load(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return p;
    }

    static Patterns load(InputStream in) throws IOException {
        JsonNode root = new ObjectMapper().readTree(in);
        List<String> kernels = new ArrayList<>();
        root.path("kernels").forEach(k -> kernels.add(k.asText()));
        List<Entry> out = new ArrayList<>();
        for (JsonNode p : root.path("patterns")) {
            List<String> ks = new ArrayList<>();
            p.path("kernels").forEach(k -> ks.add(k.asText()));
            List<String> ex = new ArrayList<>();
            JsonNode e = p.get("example");
            if (e != null && e.isArray()) e.forEach(x -> ex.add(x.asText()));
            else if (e != null) ex.add(e.asText());
            List<String> seen = new ArrayList<>();
            JsonNode sn = p.path("seen");
            if (sn.isArray()) sn.forEach(k -> seen.add(k.asText()));
            else if (sn.asBoolean(true)) seen.addAll(ks);
            out.add(new Entry(p.path("id").asText(), Role.valueOf(p.path("role").asText()), List.copyOf(ks),
                    p.path("debug").asBoolean(false), p.path("device_prefix").asBoolean(true), p.path("source").asText(),
                    Pattern.compile(p.path("regex").asText()), List.copyOf(ex), List.copyOf(seen)));
        }
        return new Patterns(List.copyOf(kernels), List.copyOf(out));
    }

    /** A message the catalog knows: the entry, the device of its prefix (null when it has none) and the match. */
    record Hit(Entry entry, String driver, String dev, Matcher m) {}

    /** Cheap filter first: every AER-path message contains one of these words; most log lines contain none. */
    private static boolean maybe(String msg) {
        return msg.contains("AER") || msg.contains("PCIe Bus Error") || msg.contains("error status") || msg.contains("TLP")
                || msg.contains("DPC") || msg.contains("recover") || msg.contains("reset") || msg.contains("Slot(")
                || msg.contains("suppressed") || msg.contains("] ") || msg.contains("broadcast") || msg.contains("Link Active")
                || msg.contains("bridge to") || msg.contains("device request") || msg.contains("iommu group");
    }

    Hit match(String message) {
        if (message.length() > 4096 || !maybe(message)) return null;
        Matcher pre = PREFIX.matcher(message);
        String driver = null, dev = null, text = message;
        if (pre.matches()) {
            driver = pre.group(1);
            dev = pre.group(2);
            text = pre.group(3);
        }
        for (Entry e : entries) {
            if (e.devicePrefix() != (dev != null)) continue;
            Matcher m = e.match(text);
            if (m != null) return new Hit(e, driver, dev, m);
        }
        return null;
    }
}
