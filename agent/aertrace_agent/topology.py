"""PCI topology snapshot from sysfs, device-name <-> kernel-key mapping, and the filter set."""
import os
import re

PCI_NAME_RE = re.compile(r"^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")
_SHORT_RE = re.compile(r"^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")

PCI_EXT_CAP_ID_ERR = 0x0001
PCI_CLASS_BRIDGE_PCI = 0x0604
PCI_CLASS_BRIDGE_CARDBUS = 0x0607


def normalize_name(name):
    """'01:00.0' or '0000:01:00.0' (any case) -> '0000:01:00.0'; None when not a PCI name (device number > 1f
    included). The --device grammar (agent/README.md); `aertrace record` implements the same, and both test
    suites check testdata/device-names.tsv."""
    n = (name or "").strip().lower()
    if _SHORT_RE.match(n):
        n = "0000:" + n
    m = PCI_NAME_RE.match(n)
    return n if m and int(m.group(3), 16) <= 0x1f else None


def parse_device_list(text):
    """'01:00.0,0000:02:00.1' -> ['0000:01:00.0', '0000:02:00.1']; ValueError naming the bad part."""
    out = []
    for part in text.split(","):
        n = normalize_name(part)
        if n is None:
            raise ValueError(part.strip())
        out.append(n)
    return out


def name_to_key(name):
    """'0000:01:00.0' -> domain << 16 | bus << 8 | devfn (the probes' device key)."""
    m = PCI_NAME_RE.match(name)
    if not m:
        raise ValueError("not a PCI device name: %r" % name)
    dom, bus, slot, fn = (int(m.group(i), 16) for i in range(1, 5))
    if slot > 31:
        raise ValueError("not a PCI device name: %r" % name)
    return dom << 16 | bus << 8 | slot << 3 | fn


def key_to_name(key):
    return "%04x:%02x:%02x.%d" % ((key >> 16) & 0xffff, (key >> 8) & 0xff, (key >> 3) & 0x1f, key & 7)


def _read(path):
    try:
        with open(path, "r") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def aer_offset(config_bytes):
    """Offset of the AER extended capability (walking the list from 0x100), 0 when absent, None when the
    config space is too short to tell (not root: sysfs then shows only the first 64/256 bytes)."""
    if config_bytes is None or len(config_bytes) < 0x104:
        return None
    off, seen = 0x100, 0
    while off and off + 4 <= len(config_bytes) and seen < 64:
        hdr = int.from_bytes(config_bytes[off:off + 4], "little")
        if hdr == 0 or hdr == 0xffffffff:
            return 0
        if hdr & 0xffff == PCI_EXT_CAP_ID_ERR:
            return off
        off = (hdr >> 20) & 0xffc
        if off < 0x100:
            return 0
        seen += 1
    return 0


def has_aer(config_bytes):
    """Whether the AER extended capability is present; None when the config space is too short to tell."""
    off = aer_offset(config_bytes)
    return None if off is None else off != 0


def _aer_of(devdir):
    """(has AER, its config-space offset or None): the analyzer needs the offset to recognise a user's AER
    status reads on devices that do not put the capability first."""
    try:
        with open(os.path.join(devdir, "config"), "rb") as f:
            cfg = f.read(4096)
    except OSError:
        cfg = None
    off = aer_offset(cfg)
    if off is not None:
        return off != 0, (off or None)
    # Without root the config file is only 64/256 bytes: the AER statistics files exist iff the
    # kernel found the capability (4.17+).
    return any(os.path.exists(os.path.join(devdir, f)) for f in ("aer_dev_correctable", "aer_dev_nonfatal")), None


def scan(sysfs="/sys"):
    """List of topology entries (schema-v1 header 'topology'), sorted by name."""
    base = os.path.join(sysfs, "bus", "pci", "devices")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    out = []
    for name in names:
        if not PCI_NAME_RE.match(name):
            continue
        link = os.path.join(base, name)
        real = os.path.realpath(link)
        parent_name = os.path.basename(os.path.dirname(real))
        parent = parent_name if PCI_NAME_RE.match(parent_name) else None
        cls = _read(os.path.join(real, "class"))
        try:
            cls_val = int(cls, 16) if cls else None
        except ValueError:
            cls_val = None
        drv = os.path.join(real, "driver")
        grp = os.path.join(real, "iommu_group")
        iommu = None
        if os.path.islink(grp):
            try:
                iommu = int(os.path.basename(os.readlink(grp)))
            except ValueError:
                iommu = None
        bridge = cls_val is not None and (cls_val >> 8) in (PCI_CLASS_BRIDGE_PCI, PCI_CLASS_BRIDGE_CARDBUS)
        aer, aer_cap = _aer_of(real)
        entry = {
            "dev": name,
            "vendor": _read(os.path.join(real, "vendor")),
            "device": _read(os.path.join(real, "device")),
            "class": cls,
            "driver": os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None,
            "parent": parent,
            "bridge": bridge,
            "iommu_group": iommu,
            "aer": aer,
            "aer_cap": aer_cap,
        }
        out.append(dict((k, v) for k, v in entry.items() if v is not None or k in ("driver", "parent", "iommu_group")))
    return out


def hierarchy(topology, devices):
    """The filter set for --device: each device, everything below it, and the bridges above it.

    Raises KeyError naming the first device that is not in the topology.
    """
    by_name = dict((t["dev"], t) for t in topology)
    children = {}
    for t in topology:
        if t.get("parent"):
            children.setdefault(t["parent"], []).append(t["dev"])
    out = set()
    for d in devices:
        if d not in by_name:
            raise KeyError(d)
        # up to the root port
        cur = d
        while cur and cur not in out:
            out.add(cur)
            cur = by_name[cur].get("parent") if cur in by_name else None
        # everything below
        stack = list(children.get(d, []))
        while stack:
            c = stack.pop()
            if c not in out:
                out.add(c)
                stack.extend(children.get(c, []))
    return sorted(out)
