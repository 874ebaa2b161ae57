"""Assemble the bcc program text from probes/bpf for the chosen candidates."""
import os

FILE_ORDER = ("aer.c", "reset.c", "vfio.c", "cfglock.c", "link.c", "hotplug.c", "qemu.c")


def program_text(probes_dir, files):
    parts = []
    with open(os.path.join(probes_dir, "bpf", "common.h"), "r") as f:
        parts.append(f.read())
    for name in FILE_ORDER:
        if name in files:
            with open(os.path.join(probes_dir, "bpf", name), "r") as f:
                parts.append("\n/* ---- %s ---- */\n" % name)
                parts.append(f.read())
    unknown = [f for f in files if f not in FILE_ORDER]
    if unknown:
        raise ValueError("catalog names unknown probe files: %s" % ", ".join(unknown))
    return "".join(parts)


def reset_fn_names(probes_dir):
    from .encode import fn_ids
    with open(os.path.join(probes_dir, "bpf", "reset.c"), "r") as f:
        return fn_ids(f.read())
