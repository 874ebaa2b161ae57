import os
import shutil
import tempfile
import unittest

from aertrace_agent import topology as t
from tests.util import lab_tree, make_pci_dev, config_with_aer


class NamesTest(unittest.TestCase):
    def test_roundtrip(self):
        for name in ("0000:00:02.0", "0000:01:00.0", "0001:ff:1f.7", "abcd:3a:04.2"):
            self.assertEqual(t.key_to_name(t.name_to_key(name)), name)

    def test_key_layout_matches_probes(self):
        # domain << 16 | bus << 8 | devfn, devfn = slot << 3 | fn
        self.assertEqual(t.name_to_key("0000:01:00.0"), 0x0100)
        self.assertEqual(t.name_to_key("0000:00:02.0"), 0x0010)
        self.assertEqual(t.name_to_key("0002:03:1f.7"), 0x000203ff)

    def test_bad_names(self):
        for bad in ("01:00", "0000:01:20.0", "0000:01:00.8", "xyz"):
            with self.assertRaises(ValueError):
                t.name_to_key(bad)

    def test_normalize(self):
        self.assertEqual(t.normalize_name("01:00.0"), "0000:01:00.0")
        self.assertEqual(t.normalize_name("0000:0A:00.1"), "0000:0a:00.1")
        self.assertIsNone(t.normalize_name("1:0.0"))


class AerCapTest(unittest.TestCase):
    def test_found_second_in_chain(self):
        self.assertTrue(t.has_aer(config_with_aer(True)))

    def test_absent(self):
        self.assertFalse(t.has_aer(config_with_aer(False)))

    def test_offset(self):
        self.assertEqual(t.aer_offset(config_with_aer(True)), 0x148)
        self.assertEqual(t.aer_offset(config_with_aer(False)), 0)
        self.assertIsNone(t.aer_offset(b"\0" * 256))

    def test_short_config_is_unknown(self):
        self.assertIsNone(t.has_aer(b"\0" * 256))

    def test_loop_terminates(self):
        cfg = bytearray(4096)
        cfg[0x100:0x104] = (0x000d | (0x100 << 20)).to_bytes(4, "little")  # points at itself
        self.assertFalse(t.has_aer(bytes(cfg)))


class ScanTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        lab_tree(self.root)

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_scan(self):
        topo = dict((d["dev"], d) for d in t.scan(self.root))
        self.assertEqual(sorted(topo), ["0000:00:00.0", "0000:00:02.0", "0000:00:1f.0", "0000:01:00.0"])
        ep = topo["0000:01:00.0"]
        self.assertEqual(ep["parent"], "0000:00:02.0")
        self.assertEqual(ep["aer_cap"], 0x148)
        self.assertNotIn("aer_cap", topo["0000:00:1f.0"])
        self.assertEqual(ep["driver"], "vfio-pci")
        self.assertEqual(ep["iommu_group"], 2)
        self.assertEqual(ep["vendor"], "0x1af4")
        self.assertFalse(ep["bridge"])
        self.assertTrue(ep["aer"])
        rp = topo["0000:00:02.0"]
        self.assertIsNone(rp["parent"])
        self.assertTrue(rp["bridge"])
        self.assertEqual(rp["driver"], "pcieport")
        self.assertIsNone(topo["0000:00:00.0"]["driver"])
        self.assertFalse(topo["0000:00:1f.0"]["aer"])

    def test_aer_from_sysfs_attributes_without_config(self):
        d = make_pci_dev(self.root, ["pci0000:00", "0000:00:03.0"], "0x1b36", "0x000c", "0x060400", None, None)
        open(os.path.join(d, "aer_dev_correctable"), "w").close()
        topo = dict((x["dev"], x) for x in t.scan(self.root))
        self.assertTrue(topo["0000:00:03.0"]["aer"])
        self.assertIsNone(topo["0000:00:03.0"]["iommu_group"])

    def test_missing_sysfs(self):
        self.assertEqual(t.scan(os.path.join(self.root, "nope")), [])


class HierarchyTest(unittest.TestCase):
    TOPO = [
        {"dev": "0000:00:02.0", "parent": None, "bridge": True},
        {"dev": "0000:01:00.0", "parent": "0000:00:02.0", "bridge": True},     # switch upstream
        {"dev": "0000:02:00.0", "parent": "0000:01:00.0", "bridge": True},     # downstream
        {"dev": "0000:03:00.0", "parent": "0000:02:00.0", "bridge": False},
        {"dev": "0000:03:00.1", "parent": "0000:02:00.0", "bridge": False},
        {"dev": "0000:00:03.0", "parent": None, "bridge": True},
        {"dev": "0000:04:00.0", "parent": "0000:00:03.0", "bridge": False},
    ]

    def test_endpoint_gets_bridges_above(self):
        self.assertEqual(t.hierarchy(self.TOPO, ["0000:03:00.0"]),
                         ["0000:00:02.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0"])

    def test_bridge_gets_everything_below(self):
        self.assertEqual(t.hierarchy(self.TOPO, ["0000:01:00.0"]),
                         ["0000:00:02.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:03:00.1"])

    def test_two_devices(self):
        self.assertEqual(t.hierarchy(self.TOPO, ["0000:03:00.1", "0000:04:00.0"]),
                         ["0000:00:02.0", "0000:00:03.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.1",
                          "0000:04:00.0"])

    def test_unknown_device(self):
        with self.assertRaises(KeyError):
            t.hierarchy(self.TOPO, ["0000:09:00.0"])


if __name__ == "__main__":
    unittest.main()
