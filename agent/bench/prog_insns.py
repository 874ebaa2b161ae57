#!/usr/bin/python3
"""The BPF programs a running process holds, by name, with what the verifier walked in each:

    /usr/bin/python3 agent/bench/prog_insns.py PID

For each bpf-prog file descriptor of PID: its id and verified_insns from /proc/PID/fdinfo (kernel 5.16+; "?" on
older kernels), run_cnt when kernel.bpf_stats_enabled was on, and its name and type from the kernel
(BPF_PROG_GET_FD_BY_ID + BPF_OBJ_GET_INFO_BY_FD through the raw syscall: no bcc, no libbpf, no bpftool, which the
lab's images do not have). Needs root. The lab benches print it for the agent once it is ready (fatal.sh), to show
the load cost of each program on the lab's kernels (agent/bench/verifier_insns.py does it natively)."""
import ctypes as ct
import os
import platform
import sys

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD = 13, 15
PROG_TYPES = {1: "socket", 2: "kprobe", 5: "tracepoint", 17: "raw_tracepoint", 26: "tracing"}
libc = ct.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    return libc.syscall(SYS_BPF, cmd, ct.byref(attr), ct.sizeof(attr))


def prog_name(prog_id):
    """(type, name) of a program by its id, or (None, None) when the kernel refuses."""
    attr = (ct.c_uint32 * 32)()
    attr[0] = prog_id
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    if fd < 0:
        return None, None
    try:
        info = (ct.c_ubyte * 256)()   # struct bpf_prog_info: type at 0, name[16] at 64
        attr = (ct.c_uint64 * 16)()
        attr[0] = fd | (ct.sizeof(info) << 32)   # bpf_fd, info_len
        attr[1] = ct.addressof(info)
        if bpf(BPF_OBJ_GET_INFO_BY_FD, attr) < 0:
            return None, None
        raw = bytes(info)
        return int.from_bytes(raw[0:4], "little"), raw[64:80].split(b"\0")[0].decode("ascii", "replace")
    finally:
        os.close(fd)


def main():
    pid = sys.argv[1]
    rows = []
    for fd in sorted(os.listdir("/proc/%s/fd" % pid), key=int):
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)) != "anon_inode:bpf-prog":
                continue
            with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        pid_ = int(info.get("prog_id", "0"))
        typ, name = prog_name(pid_)
        rows.append((name or "?", PROG_TYPES.get(typ, str(typ)), info.get("verified_insns", "?").strip(),
                     info.get("run_cnt", "?").strip()))
    for name, typ, ins, cnt in rows:
        print("  prog %-16s %-10s verified_insns %-6s run_cnt %s" % (name, typ, ins, cnt))
    total = sum(int(r[2]) for r in rows if r[2].isdigit())
    print("  %d programs, %s instructions verified in all" % (len(rows), total if rows and rows[0][2] != "?" else "?"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
