"""Helpers shared by the agent's tests (no bcc, no root)."""
import os

AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(AGENT_DIR)
PROBES = os.path.join(REPO, "probes")


def make_pci_dev(root, path_parts, vendor, device, cls, driver=None, iommu_group=None, config=None):
    """Create a fake sysfs PCI device under root/devices/<path_parts...> and its bus/pci/devices link."""
    devdir = os.path.join(root, "devices", *path_parts)
    os.makedirs(devdir)
    for name, val in (("vendor", vendor), ("device", device), ("class", cls)):
        with open(os.path.join(devdir, name), "w") as f:
            f.write(val + "\n")
    if driver:
        drvdir = os.path.join(root, "bus", "pci", "drivers", driver)
        os.makedirs(drvdir, exist_ok=True)
        os.symlink(os.path.relpath(drvdir, devdir), os.path.join(devdir, "driver"))
    if iommu_group is not None:
        g = os.path.join(root, "kernel", "iommu_groups", str(iommu_group))
        os.makedirs(g, exist_ok=True)
        os.symlink(os.path.relpath(g, devdir), os.path.join(devdir, "iommu_group"))
    if config is not None:
        with open(os.path.join(devdir, "config"), "wb") as f:
            f.write(config)
    links = os.path.join(root, "bus", "pci", "devices")
    os.makedirs(links, exist_ok=True)
    os.symlink(os.path.relpath(devdir, links), os.path.join(links, path_parts[-1]))
    return devdir


def config_with_aer(aer=True):
    """4096-byte config space: an extended capability chain 0x100 (ACS or AER) -> 0x148 (AER or DSN)."""
    cfg = bytearray(4096)
    first = 0x000d if aer else 0x000d   # ACS first in both
    cfg[0x100:0x104] = (first | (1 << 16) | (0x148 << 20)).to_bytes(4, "little")
    second = 0x0001 if aer else 0x0003  # AER or DSN, end of list
    cfg[0x148:0x14c] = (second | (1 << 16)).to_bytes(4, "little")
    return bytes(cfg)


def lab_tree(root):
    """The lab's topology: root port 00:02.0 (pcieport) -> endpoint 01:00.0 (vfio-pci), plus a host bridge."""
    make_pci_dev(root, ["pci0000:00", "0000:00:00.0"], "0x8086", "0x29c0", "0x060000", None, 0)
    make_pci_dev(root, ["pci0000:00", "0000:00:02.0"], "0x1b36", "0x000c", "0x060400", "pcieport", 1,
                 config_with_aer(True))
    make_pci_dev(root, ["pci0000:00", "0000:00:02.0", "0000:01:00.0"], "0x1af4", "0x1041", "0x020000",
                 "vfio-pci", 2, config_with_aer(True))
    make_pci_dev(root, ["pci0000:00", "0000:00:1f.0"], "0x8086", "0x2918", "0x060100", "lpc_ich", 3,
                 config_with_aer(False))
