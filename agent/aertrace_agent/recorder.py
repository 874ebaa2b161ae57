"""Flight-recorder bookkeeping that needs no kernel: which devices get a history slot, which hierarchy
(root port) each device belongs to, and the agent's mirror of each hierarchy's live window, which
decides when the history is dumped into the stream."""
from .topology import name_to_key

HIER_MAX = 8      # common.h live_until entries; more root ports than this share ids (more live, never less)
MAX_SLOTS = 64    # history slots (HIST_N entries of 80 bytes each)


def plan(topology, filter_devices, max_slots=MAX_SLOTS):
    """-> (devinfo {name: (slot or None, hierarchy id)}, slot names in slot order).

    With a filter, its devices get slots; without one, every device in the topology (vfio-pci bound ones
    first). Devices without a slot are streamed as before. A device's hierarchy is its topmost bridge."""
    by_name = dict((t["dev"], t) for t in topology)

    def root(d):
        seen = set()
        while d in by_name and by_name[d].get("parent") and d not in seen:
            seen.add(d)
            d = by_name[d]["parent"]
        return d

    names = list(filter_devices) if filter_devices else [t["dev"] for t in topology]
    names = sorted(set(names), key=lambda n: (by_name.get(n, {}).get("driver") != "vfio-pci", n))
    hier_ids = {}
    devinfo = {}
    slots = []
    for n in names:
        r = root(n)
        if r not in hier_ids:
            hier_ids[r] = len(hier_ids) % HIER_MAX
        slot = None
        if len(slots) < max_slots and not by_name.get(n, {}).get("bridge"):
            slot = len(slots)
            slots.append(n)
        devinfo[n] = (slot, hier_ids[r])
    return devinfo, slots


class LiveMirror(object):
    """The agent's copy of the kernel's per-hierarchy live windows (common.h arm_live). A trigger record
    that finds its hierarchy not live is where the kernel stopped recording: the history of that
    hierarchy's devices goes into the stream just before it."""

    def __init__(self, devinfo, tail_ns):
        self.tail = tail_ns
        self.hier_of = dict((name_to_key(n), h) for n, (s, h) in devinfo.items())
        self.slots_of = {}
        for n, (s, h) in devinfo.items():
            if s is not None:
                self.slots_of.setdefault(h, []).append((s, name_to_key(n)))
        self.until = [0] * HIER_MAX
        self.until_all = 0      # live_until[HIER_MAX], armed by devices the agent does not know
        self.went_live = []     # after trigger(): the kernel's hist_frozen entries that trigger set (None = all)

    def trigger(self, ts, dev):
        """-> [(slot, device key)] whose history to dump now (empty when already live). Also sets went_live: the
        hierarchies the kernel froze at this trigger (common.h arm_live), to unfreeze once they are dumped."""
        h = self.hier_of.get(dev)
        hs = range(HIER_MAX) if h is None else (h,)
        out = []
        self.went_live = []
        if h is None:
            if ts >= self.until_all:
                self.went_live.append(None)
            self.until_all = max(self.until_all, ts + self.tail)
        for x in hs:
            if ts >= self.until[x]:
                out.extend(self.slots_of.get(x, ()))
                if h is not None:
                    self.went_live.append(x)
            if ts + self.tail > self.until[x]:
                self.until[x] = ts + self.tail
        return sorted(out)
