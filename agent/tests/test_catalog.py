import os
import re
import tempfile
import unittest

from aertrace_agent import catalog as c
from tests.util import PROBES

CAT = c.load_catalog(os.path.join(PROBES, "catalog.json"))

# Symbols as /proc/kallsyms lists them on the lab's kernels (subset, addresses zeroed).
K61 = """
0000000000000000 T pcie_do_recovery
0000000000000000 t pcie_do_recovery.cold
0000000000000000 t report_error_detected
0000000000000000 t report_frozen_detected
0000000000000000 t report_normal_detected
0000000000000000 t report_mmio_enabled
0000000000000000 t report_slot_reset
0000000000000000 t report_resume
0000000000000000 t aer_root_reset
0000000000000000 T dpc_reset_link
0000000000000000 T pci_bus_error_reset
0000000000000000 T pci_reset_secondary_bus
0000000000000000 T pci_bridge_secondary_bus_reset
0000000000000000 T pcie_reset_flr
0000000000000000 T pci_try_reset_function
0000000000000000 T pci_reset_function
0000000000000000 T pci_reset_bus
0000000000000000 T pci_cfg_access_lock
0000000000000000 T pci_cfg_access_trylock
0000000000000000 T pci_cfg_access_unlock
0000000000000000 T eventfd_signal
0000000000000000 T eventfd_signal_mask
0000000000000000 t eventfd_read
0000000000000000 d pci_lock
0000000000000000 T vfio_pci_core_ioctl\t[vfio_pci_core]
0000000000000000 T vfio_pci_core_read\t[vfio_pci_core]
0000000000000000 T vfio_pci_core_write\t[vfio_pci_core]
0000000000000000 T vfio_pci_core_aer_err_detected\t[vfio_pci_core]
0000000000000000 T vfio_pci_core_close_device\t[vfio_pci_core]
0000000000000000 t vfio_pci_open_device\t[vfio_pci]
0000000000000000 T pciehp_handle_presence_or_link_change
0000000000000000 T pciehp_handle_button_press
0000000000000000 T pciehp_handle_disable_request
0000000000000000 T pciehp_unconfigure_device
0000000000000000 T pci_stop_and_remove_bus_device
0000000000000000 T vfio_pci_core_request\t[vfio_pci_core]
0000000000000000 t vfio_pci_remove\t[vfio_pci]
"""


def drop(text, *names):
    """K61 without the lines defining names."""
    return "\n".join(l for l in text.splitlines() if len(l.split()) < 3 or l.split()[2] not in names)


def rename(text, old, new, module=None):
    out = []
    for l in text.splitlines():
        p = l.split()
        if len(p) >= 3 and p[2] == old:
            l = "%s %s %s" % (p[0], p[1], new) + ("\t[%s]" % module if module else ("\t" + p[3] if len(p) > 3 else ""))
        out.append(l)
    return "\n".join(out)


def kernel(release, text, tracepoints=("ras:aer_event",), fields=("dev_name", "status", "severity",
                                                                     "tlp_header_valid", "tlp_header"), **kw):
    syms = c.SymbolIndex.parse(text.strip().splitlines())
    kw.setdefault("user_binaries", {"qemu": (QEMU, set(QEMU_SYMS))})
    return c.Kernel(release, syms, set(tracepoints), dict((tp, set(fields)) for tp in tracepoints), **kw)


def only_new_tracepoints_missing(miss):
    """The missing list without the 7.0+ link tracepoints, which must be missing for their kernel range."""
    rest = []
    for m in miss:
        if m["event"] in ("pci_hp_event", "pcie_link_event") and "older than 7.0" in m["reason"]:
            continue
        rest.append(m)
    return rest


# what nm -D lists for Debian bookworm's qemu-system-x86_64 (subset)
QEMU = "/usr/bin/qemu-system-x86_64"
QEMU_SYMS = ("vfio_pci_read_config", "vfio_pci_write_config", "vfio_region_read", "vfio_region_write", "vm_stop",
             "runstate_set", "qemu_system_reset", "main")


def chosen_symbols(chosen):
    return dict((x["event"], [a.get("symbol") or a.get("tracepoint") for a in x["attach"]])
                for x in chosen)


class VersionTest(unittest.TestCase):
    def test_kernel_version(self):
        self.assertEqual(c.kernel_version("6.1.0-40-amd64"), (6, 1))
        self.assertEqual(c.kernel_version("5.10.0-35-amd64"), (5, 10))
        self.assertIsNone(c.kernel_version("weird"))


class ResolveTest(unittest.TestCase):
    def test_61_everything_resolves(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61))
        got = chosen_symbols(ch)
        self.assertEqual(only_new_tracepoints_missing(miss), [], miss)
        self.assertEqual(got["recovery"], ["pcie_do_recovery", "pcie_do_recovery"])
        self.assertEqual(got["cb.error_detected"], ["report_error_detected", "report_error_detected"])
        # the optional perm_failure walk is attached when present (Debian 6.1.192 has it)
        with_perm = K61 + "\n0000000000000000 t report_perm_failure_detected"
        got2 = chosen_symbols(c.resolve(CAT, kernel("6.1.0-56-amd64", with_perm))[0])
        self.assertEqual(got2["cb.error_detected"], ["report_error_detected"] * 2 + ["report_perm_failure_detected"] * 2)
        self.assertEqual(got["eventfd.signal"], ["eventfd_signal"])     # not both: 6.1 nests them
        self.assertEqual(got["vfio.ioctl"], ["vfio_pci_core_ioctl"] * 2)
        rec = [x for x in ch if x["event"] == "recovery"][0]
        self.assertEqual([a["fn"] for a in rec["attach"]], ["recovery_enter", "recovery_exit"])

    def test_612_uses_wrappers_and_signal_mask(self):
        text = drop(K61, "report_error_detected", "eventfd_signal")
        ch, miss = c.resolve(CAT, kernel("6.12.38+deb13-amd64", text))
        got = chosen_symbols(ch)
        self.assertEqual(got["cb.error_detected"], ["report_frozen_detected", "report_frozen_detected",
                                                    "report_normal_detected", "report_normal_detected"])
        # an optional attachment never makes a candidate win: without both wrappers nothing is chosen
        ch2, miss2 = c.resolve(CAT, kernel("6.12.38", drop(text, "report_normal_detected") +
                                           "\n0000000000000000 t report_perm_failure_detected"))
        self.assertNotIn("cb.error_detected", chosen_symbols(ch2))
        self.assertEqual(got["eventfd.signal"], ["eventfd_signal_mask"])
        self.assertEqual(only_new_tracepoints_missing(miss), [])

    def test_510_legacy_vfio(self):
        text = K61
        for old, new in (("vfio_pci_core_ioctl", "vfio_pci_ioctl"), ("vfio_pci_core_read", "vfio_pci_read"),
                         ("vfio_pci_core_write", "vfio_pci_write"), ("vfio_pci_open_device", "vfio_pci_open"),
                         ("vfio_pci_core_aer_err_detected", "vfio_pci_aer_err_detected"),
                         ("vfio_pci_core_close_device", "vfio_pci_release"),
                         ("vfio_pci_core_request", "vfio_pci_request")):
            text = rename(text, old, new, "vfio_pci")
        text = rename(text, "pcie_reset_flr", "pcie_flr", "")
        k = kernel("5.10.0-35-amd64", text)
        ch, miss = c.resolve(CAT, k)
        got = chosen_symbols(ch)
        self.assertEqual(got["vfio.ioctl"], ["vfio_pci_ioctl"] * 2)
        self.assertEqual(got["vfio.err_detected"], ["vfio_pci_aer_err_detected"] * 2)
        self.assertEqual(got["vfio.open"], ["vfio_pci_open", "vfio_pci_release"])
        self.assertEqual(got["vfio.request"], ["vfio_pci_request"])
        defs = c.defines_for(ch, k)
        self.assertNotIn("VFIO_DEVICE_ARG", defs)   # 5.10 passes void *device_data
        self.assertEqual(only_new_tracepoints_missing(miss), [])
        self.assertEqual(got["reset.flr"], ["pcie_flr", "pcie_flr"])

    def test_core_defines_device_arg(self):
        k = kernel("6.1.0-40-amd64", K61)
        ch, _ = c.resolve(CAT, k)
        defs = c.defines_for(ch, k)
        for d in ("VFIO_DEVICE_ARG", "PROBE_AER_EVENT", "AER_TP_TLP", "PROBE_RECOVERY", "PROBE_CFG_LOCK"):
            self.assertIn(d, defs)

    def test_old_tracepoint_format_has_no_tlp_define(self):
        k = kernel("4.14.0", K61, fields=("dev_name", "status", "severity"))
        ch, _ = c.resolve(CAT, k)
        self.assertIn("PROBE_AER_EVENT", c.defines_for(ch, k))
        self.assertNotIn("AER_TP_TLP", c.defines_for(ch, k))

    def test_void_recovery_before_57(self):
        ch, _ = c.resolve(CAT, kernel("5.4.0-100-generic", K61))
        rec = [x for x in ch if x["event"] == "recovery"][0]
        self.assertEqual(rec["attach"][1]["fn"], "recovery_exit_void")

    def test_module_not_loaded(self):
        text = "\n".join(l for l in K61.splitlines() if "vfio" not in l)
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", text, modules={"kvm"}))
        reasons = dict((m["event"], m["reason"]) for m in miss)
        self.assertIn("module vfio_pci_core not loaded", reasons["vfio.ioctl"])
        # eventfd is only meaningful inside vfio's handler
        self.assertEqual(reasons["eventfd.signal"], "needs vfio.err_detected, which is not attached")
        self.assertIn("recovery", chosen_symbols(ch))

    def test_clone_only_is_reported_not_attached(self):
        text = rename(K61, "aer_root_reset", "aer_root_reset.isra.0")
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", text))
        m = [x for x in miss if x["event"] == "reset.aer_root_reset"][0]
        self.assertIn("GCC clone aer_root_reset.isra.0", m["reason"])
        self.assertEqual(m["candidates"], ["aer_root_reset"])

    def test_cold_part_only_means_inlined(self):
        text = drop(K61, "pcie_do_recovery")
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", text))
        m = [x for x in miss if x["event"] == "recovery"][0]
        self.assertIn("only pcie_do_recovery.cold", m["reason"])

    def test_missing_tracepoint(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61, tracepoints=()))
        m = [x for x in miss if x["event"] == "aer.event"][0]
        self.assertEqual(m["reason"], "tracepoint ras:aer_event not in tracefs")

    def test_blacklist_and_notes(self):
        k = kernel("6.1.0-40-amd64", K61 + "\n0000000000000000 t report_resume\t[other]",
                   blacklist={"pci_cfg_access_lock"}, traceable={"pcie_do_recovery"})
        ch, miss = c.resolve(CAT, k)
        self.assertIn("kprobe blacklist", [m for m in miss if m["event"] == "cfg_lock.lock"][0]["reason"])
        res = [x for x in ch if x["event"] == "cb.resume"][0]
        self.assertTrue(any("defined 2 times" in n for n in res["notes"]))
        self.assertTrue(any("available_filter_functions" in n for n in res["notes"]))
        self.assertEqual([x for x in ch if x["event"] == "recovery"][0]["notes"], [])

    def test_only(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61), only={"recovery", "vfio.rw"})
        self.assertEqual(sorted(chosen_symbols(ch)), ["recovery", "vfio.rw"])
        self.assertTrue(all(m["reason"].startswith("not requested") for m in miss))


class FentryTest(unittest.TestCase):
    def test_fentry_only_with_the_feature(self):
        ch, _ = c.resolve(CAT, kernel("6.12.38", K61))
        self.assertEqual(chosen_symbols(ch)["vfio.rw"], ["vfio_pci_core_read"] * 2 + ["vfio_pci_core_write"] * 2)
        self.assertEqual([a["kind"] for a in [x for x in ch if x["event"] == "vfio.rw"][0]["attach"]],
                         ["kprobe", "kretprobe", "kprobe", "kretprobe"])
        k = kernel("6.12.38", K61, features={"module_kfunc"})
        ch2, _ = c.resolve(CAT, k)
        rw = [x for x in ch2 if x["event"] == "vfio.rw"][0]
        self.assertEqual([a["kind"] for a in rw["attach"]], ["kfunc", "kretfunc", "kfunc", "kretfunc"])
        self.assertIn("VFIO_RW_FENTRY", c.defines_for(ch2, k))
        # without the module loaded the fentry candidate is not chosen either
        ch3, miss3 = c.resolve(CAT, kernel("6.12.38", drop(K61, "vfio_pci_core_read"), features={"module_kfunc"}))
        self.assertNotIn("vfio.rw", chosen_symbols(ch3))

    def test_module_kfunc_detection(self):
        import types
        fake = types.SimpleNamespace(__version__="0.26.0", BPF=types.SimpleNamespace(support_kfunc=lambda: True))
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "vfio_pci_core"), "w").close()
            self.assertFalse(c.module_kfunc(fake, "vfio_pci_core", d))
            fake.__version__ = "0.35.0"
            self.assertTrue(c.module_kfunc(fake, "vfio_pci_core", d))
            self.assertFalse(c.module_kfunc(fake, "vfio_pci", d))


class LinkTracepointsTest(unittest.TestCase):
    def test_72_attaches_both_link_tracepoints(self):
        tps = ("ras:aer_event", "pci:pci_hp_event", "pci:pcie_link_event")
        ch, miss = c.resolve(CAT, kernel("7.2.12+deb14-amd64", drop(K61, "report_error_detected", "eventfd_signal"), tps))
        got = chosen_symbols(ch)
        self.assertEqual(got["pci_hp_event"], ["pci:pci_hp_event"])
        self.assertEqual(got["pcie_link_event"], ["pci:pcie_link_event"])
        self.assertIn("PROBE_PCIE_LINK", c.defines_for(ch, kernel("7.2.12", K61, tps)))
        # 7.0+ kernels without them (a config without the tracepoints): missing with the tracefs reason
        ch2, miss2 = c.resolve(CAT, kernel("7.2.12", K61))
        self.assertIn("not in tracefs", [m for m in miss2 if m["event"] == "pci_hp_event"][0]["reason"])


class FormatTest(unittest.TestCase):
    def test_parse_format(self):
        fmt = """name: aer_event
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:__data_loc char[] dev_name;\toffset:8;\tsize:4;\tsigned:1;
\tfield:u32 status;\toffset:12;\tsize:4;\tsigned:0;
\tfield:u8 severity;\toffset:16;\tsize:1;\tsigned:0;
\tfield:u8 tlp_header_valid;\toffset:17;\tsize:1;\tsigned:0;
\tfield:u32 tlp_header[4];\toffset:20;\tsize:16;\tsigned:0;
"""
        f = c.parse_tp_format(fmt)
        self.assertTrue({"dev_name", "status", "severity", "tlp_header_valid", "tlp_header"} <= f)

    def test_blacklist(self):
        self.assertEqual(c.parse_blacklist(["0xffffffff81000000-0xffffffff81000010\tfoo\n", "junk\n"]), {"foo"})


class CatalogAgreesWithSourcesTest(unittest.TestCase):
    """Every fn and define the catalog names exists in probes/bpf (a typo would only show in the lab)."""

    def setUp(self):
        self.src = {}
        for f in os.listdir(os.path.join(PROBES, "bpf")):
            with open(os.path.join(PROBES, "bpf", f)) as fh:
                self.src[f] = fh.read()

    def functions(self, text):
        names = set(re.findall(r"^int\s+(\w+)\s*\((?:struct pt_regs|unsigned long long) \*ctx", text, re.M))
        for kind, mod, fn in re.findall(r"^MODULE_(KFUNC|KRETFUNC)_PROBE\((\w+),\s*(\w+)", text, re.M):
            names.add("%s__%s__%s" % (kind.lower(), mod, fn))
        for sysname, ev in re.findall(r"TRACEPOINT_PROBE\((\w+),\s*(\w+)\)", text):
            names.add("tracepoint__%s__%s" % (sysname, ev))
        return names

    def test_fns_exist_in_their_file(self):
        for ev in CAT["events"]:
            fns = self.functions(self.src[ev["file"]])
            for cand in ev["candidates"]:
                for a in cand["attach"]:
                    self.assertIn(a["fn"], fns, "%s: %s not in %s" % (ev["event"], a["fn"], ev["file"]))
                    self.assertIn(a["kind"], ("kprobe", "kretprobe", "tracepoint", "kfunc", "kretfunc", "uprobe", "uretprobe"))

    def test_defines_are_used(self):
        alltext = "".join(self.src.values())
        for ev in CAT["events"]:
            for cand in ev["candidates"]:
                for d in cand.get("defines", []) + list(cand.get("format_defines", {}).values()):
                    self.assertRegex(alltext, r"#\s*(ifdef|if defined\(|if\s+defined\()\s*%s|defined\(%s\)" % (d, d))

    def test_event_names_unique(self):
        names = [e["event"] for e in CAT["events"]]
        self.assertEqual(len(names), len(set(names)))

    def test_kernel_ranges_parse(self):
        for ev in CAT["events"]:
            for cand in ev["candidates"]:
                for k in ("min_kernel", "max_kernel"):
                    if k in cand:
                        self.assertRegex(cand[k], r"^\d+\.\d+$")

class UprobeTest(unittest.TestCase):
    def test_qemu_events_need_a_binary(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61, user_binaries={}))
        reasons = dict((m["event"], m["reason"]) for m in miss)
        self.assertEqual(reasons["qemu.vm_stop"], "no qemu binary named (--qemu PATH)")
        self.assertNotIn("qemu.config", chosen_symbols(ch))
        self.assertIn("recovery", chosen_symbols(ch))      # kernel probes are unaffected

    def test_qemu_symbols_resolved_in_the_binary(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61))
        got = dict((x["event"], x) for x in ch)
        att = got["qemu.config"]["attach"]
        self.assertEqual([a["symbol"] for a in att], ["vfio_pci_read_config"] * 2 + ["vfio_pci_write_config"] * 2)
        self.assertTrue(all(a["path"] == QEMU for a in att))
        self.assertEqual(only_new_tracepoints_missing(miss), [])

    def test_missing_qemu_symbol_is_reported(self):
        syms = set(QEMU_SYMS) - {"vm_stop"}
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61, user_binaries={"qemu": (QEMU, syms)}))
        reasons = dict((m["event"], m["reason"]) for m in miss)
        self.assertEqual(reasons["qemu.vm_stop"], "vm_stop not in the dynamic symbols of %s" % QEMU)
        self.assertIn("qemu.runstate", chosen_symbols(ch))

    def test_unreadable_binary_is_a_reason(self):
        ch, miss = c.resolve(CAT, kernel("6.1.0-40-amd64", K61, user_binaries={"qemu": ("/x", "not an ELF file")}))
        self.assertEqual(dict((m["event"], m["reason"]) for m in miss)["qemu.runstate"], "/x: not an ELF file")

    def test_elf_dynamic_functions(self):
        import sys
        from aertrace_agent.elfsyms import dynamic_functions, ElfError
        # the Python interpreter exports its C API in .dynsym (linked with --export-dynamic)
        self.assertIn("PyObject_GetAttr", dynamic_functions(os.path.realpath(sys.executable)))
        with self.assertRaises(ElfError):
            dynamic_functions(os.path.join(PROBES, "catalog.json"))


if __name__ == "__main__":
    unittest.main()
