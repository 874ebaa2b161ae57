package dev.aertrace.ingest;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The bridge a recovery resets, per device of the lab's switch topologies (lab/run topo switch / twodrv). */
class TopologyTest {
    static Topology.PciDevice dev(String name, String parent, boolean bridge) {
        return new Topology.PciDevice(name, "0x0", "0x0", bridge ? "0x060400" : "0x020000", null, parent, bridge, null, true, 256);
    }

    // root port 00:02.0 -> upstream 01:00.0 -> downstream 02:00.0 -> 03:00.0, downstream 02:01.0 -> 04:00.0
    static final Topology SWITCH = new Topology(List.of(
            dev("0000:00:02.0", null, true), dev("0000:01:00.0", "0000:00:02.0", true),
            dev("0000:02:00.0", "0000:01:00.0", true), dev("0000:02:01.0", "0000:01:00.0", true),
            dev("0000:03:00.0", "0000:02:00.0", false), dev("0000:04:00.0", "0000:02:01.0", false)));

    @Test
    void portsResetTheirOwnBusAnUpstreamPortTheBusAboveIt() {
        assertEquals("0000:00:02.0", SWITCH.recoveryBridge("0000:00:02.0"), "root port: itself");
        // pcie_do_recovery: an upstream port is neither a root nor a downstream port -> pci_upstream_bridge
        assertEquals("0000:00:02.0", SWITCH.recoveryBridge("0000:01:00.0"), "upstream port: the root port above it");
        assertEquals("0000:02:00.0", SWITCH.recoveryBridge("0000:02:00.0"), "downstream port: itself");
        assertEquals("0000:02:00.0", SWITCH.recoveryBridge("0000:03:00.0"), "endpoint: its port");
        assertEquals("0000:02:01.0", SWITCH.recoveryBridge("0000:04:00.0"));
        assertNull(SWITCH.recoveryBridge("0000:09:00.0"));
    }
}
