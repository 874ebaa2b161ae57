"""Static checks of probes/bpf that no compiler makes: which records may skip hist_trigger (common.h SUBMIT_ACCESS).

A record sent with SUBMIT_ACCESS never copies the history into the stream. That is right only for records ev_init
never gives F_SNAP (the EV_USER_OWN types) and that nothing flags F_SNAP afterwards; a trigger sent that way would
reach the agent without its history (the baseline of an error) and without the fallback's freeze."""
import os
import re
import unittest

from tests.util import PROBES

BPF = os.path.join(PROBES, "bpf")
FUNC_START = re.compile(r"^(?:static\s+__always_inline\s+)?(?:int|void|u32|u64)\s+\**(\w+)\(")


def sources():
    out = {}
    for name in sorted(os.listdir(BPF)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(BPF, name)) as f:
                out[name] = f.read()
    return out


def user_own_types(common):
    """The EV_ names of common.h's EV_USER_OWN(t): its == terms and its >= ... <= range, by the EV_ values."""
    values = dict((n, int(v)) for n, v in re.findall(r"^#define (EV_\w+)\s+(\d+)", common, re.M))
    m = re.search(r"#define EV_USER_OWN\(t\)((?:.*\\\n)*.*)", common)
    if not m:
        raise AssertionError("common.h has no EV_USER_OWN(t)")
    body = m.group(1)
    names = set(re.findall(r"\(t\) == (EV_\w+)", body))
    for lo, hi in re.findall(r"\(t\) >= (EV_\w+) && \(t\) <= (EV_\w+)", body):
        names.update(n for n, v in values.items() if values[lo] <= v <= values[hi])
    return names


def functions(text):
    """(name, params, body) of each function defined at column 0, up to its closing brace at column 0."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = FUNC_START.match(line)
        if not m:
            continue
        if line.rstrip().endswith("}"):   # one-line function
            body, j = line, i
        else:
            j = i
            while j < len(lines) and lines[j] != "}":
                j += 1
            body = "\n".join(lines[i:j + 1])
        params = [p.split()[-1].lstrip("*") for p in re.search(r"\(([^)]*)\)", body).group(1).split(",") if p.strip()]
        out.append((m.group(1), params, body))
    return out


def access_submit_problems(srcs):
    """Every SUBMIT_ACCESS use whose record may carry F_SNAP, as 'file: function: why'."""
    own = user_own_types(srcs["common.h"])
    funcs = [(f, n, p, b) for f, t in srcs.items() for n, p, b in functions(t)]
    problems = []
    for fname, name, params, body in funcs:
        if not re.search(r"\bSUBMIT_ACCESS(_QUIET)?\(", body) or name == "ev_init":
            continue
        where = "%s: %s" % (fname, name)
        if "F_SNAP" in body:
            problems.append("%s: flags F_SNAP and sends with SUBMIT_ACCESS" % where)
        inits = re.findall(r"\bev_init\(&?\w+, (\w+),", body)
        if not inits:
            problems.append("%s: no ev_init to check" % where)
        for t in inits:
            if t.startswith("EV_"):
                if t not in own:
                    problems.append("%s: %s is not an EV_USER_OWN type" % (where, t))
                continue
            if t not in params:
                problems.append("%s: ev_init's type %s is neither a constant nor a parameter" % (where, t))
                continue
            # the type is a parameter: every caller must pass EV_USER_OWN types only
            pos = params.index(t)
            calls = [(f2, n2, a) for f2, n2, _, b2 in funcs if n2 != name
                     for a in re.findall(r"\b%s\(([^;]*)\);" % name, b2)]
            if not calls:
                problems.append("%s: no caller found" % where)
            for f2, n2, args in calls:
                arg = [a.strip() for a in args.split(",")][pos]
                if arg not in own:
                    problems.append("%s: called by %s: %s with type %s" % (where, f2, n2, arg))
    return problems


class AccessSubmitTest(unittest.TestCase):
    def test_only_records_that_never_carry_f_snap_skip_the_history_copy(self):
        srcs = sources()
        self.assertEqual(access_submit_problems(srcs), [])
        # the checker saw the uses it is about: vfio.rw's entry, ioctls, open/close, QEMU's accesses
        users = sorted(n for f, t in srcs.items() for n, _, b in functions(t) if "SUBMIT_ACCESS" in b)
        self.assertEqual(users, ["open_close", "q_enter", "q_exit", "rw_enter_live", "vfio_ioctl_enter",
                                 "vfio_ioctl_exit"])

    def test_the_user_own_types_are_the_users_accesses(self):
        own = user_own_types(sources()["common.h"])
        self.assertEqual(own, {"EV_RW_ENTER", "EV_RW_EXIT", "EV_RW_DONE", "EV_IOCTL_ENTER", "EV_IOCTL_EXIT",
                               "EV_OPEN", "EV_CLOSE", "EV_QEMU_CFG_ENTER", "EV_QEMU_CFG_EXIT",
                               "EV_QEMU_REGION_ENTER", "EV_QEMU_REGION_EXIT"})

    def test_it_finds_a_trigger_sent_without_its_history(self):
        srcs = sources()
        # vfio.rw's exit flags F_SNAP for an all-ones read: sent with SUBMIT_ACCESS it would lose the history
        bad = dict(srcs, **{"vfio.c": srcs["vfio.c"].replace("    SUBMIT_QUIET(ctx, &e);\n    return 0;",
                                                           "    SUBMIT_ACCESS_QUIET(ctx, &e);\n    return 0;")})
        self.assertNotEqual(bad["vfio.c"], srcs["vfio.c"])
        self.assertIn("vfio.c: rw_exit: flags F_SNAP and sends with SUBMIT_ACCESS", access_submit_problems(bad))
        # a config lock makes its hierarchy live
        bad = dict(srcs, **{"cfglock.c": srcs["cfglock.c"].replace("SUBMIT(ctx, &e);", "SUBMIT_ACCESS(ctx, &e);")})
        self.assertTrue(any("EV_CFG_LOCK is not an EV_USER_OWN type" in p for p in access_submit_problems(bad)))
        # QEMU's vm_stop arms; its shared function called with it
        bad = dict(srcs, **{"qemu.c": srcs["qemu.c"].replace(
            "int qemu_cfg_exit(struct pt_regs *ctx) { return q_exit(ctx, EV_QEMU_CFG_EXIT, 0); }",
            "int qemu_cfg_exit(struct pt_regs *ctx) { return q_exit(ctx, EV_QEMU_VM_STOP, 0); }")})
        self.assertNotEqual(bad["qemu.c"], srcs["qemu.c"])
        self.assertIn("qemu.c: q_exit: called by qemu.c: qemu_cfg_exit with type EV_QEMU_VM_STOP",
                      access_submit_problems(bad))


def hash_count_problems(vfio):
    """vfio.c's tid hash (rw_stash) where the task's storage is the stash (TASK_STASH): every entry put there or
    taken out must move rw_hashed, which the exit reads to skip the hash while it holds none. An uncounted put would
    make that exit miss the access: a recorded access lost without a trace. Returns 'line N: why' for each put or
    delete that is not `if (rw_stash.OP(...) == 0)` followed by `hashed_add(+1 or -1);`, and the count of checked
    ones."""
    problems, checked, stack = [], 0, []
    lines = vfio.splitlines()
    for i, line in enumerate(lines):
        d = line.strip()
        if d.startswith(("#ifdef", "#ifndef", "#if ")):
            stack.append([d, True])
        elif d.startswith("#else") and stack:
            stack[-1][1] = not stack[-1][1]
        elif d.startswith("#endif") and stack:
            stack.pop()
        in_task = any("TASK_STASH" in c and not c.startswith("#ifndef") and on for c, on in stack)
        for op, delta in (("update", "1"), ("delete", "-1")):
            if "rw_stash.%s(" % op not in d or not in_task:
                continue
            checked += 1
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if not re.match(r"if \(rw_stash\.%s\(.*\) == 0\)$" % op, d) or nxt != "hashed_add(%s);" % delta:
                problems.append("line %d: rw_stash.%s not counted in rw_hashed" % (i + 1, op))
    return problems, checked


class HashCountTest(unittest.TestCase):
    def test_every_access_in_the_tid_hash_is_counted(self):
        vfio = sources()["vfio.c"]
        problems, checked = hash_count_problems(vfio)
        self.assertEqual(problems, [])
        self.assertEqual(checked, 2)   # stash_put's put and stash_drop's delete

    def test_it_finds_an_uncounted_put(self):
        vfio = sources()["vfio.c"]
        bad = vfio.replace("    if (rw_stash.update(&tid, st) == 0)\n        hashed_add(1);\n",
                           "    rw_stash.update(&tid, st);\n", 1)
        self.assertNotEqual(bad, vfio)
        self.assertEqual(hash_count_problems(bad)[0], ["line %d: rw_stash.update not counted in rw_hashed" % (
            bad.splitlines().index("    rw_stash.update(&tid, st);") + 1)])


if __name__ == "__main__":
    unittest.main()
