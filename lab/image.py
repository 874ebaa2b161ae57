"""Fetch a Debian kernel + userland into the lab cache and build a bootable guest.

Everything lives under the cache (default ~/.cache/aertrace, or $AERTRACE_CACHE):

    <cache>/<suite>/apt/       apt state private to the lab (lists, status, config)
    <cache>/<suite>/debs/      downloaded .deb files (apt's archive dir)
    <cache>/<suite>/root/      the extracted, merged-/usr root tree
    <cache>/<suite>/rootfs.ext4, vmlinuz, initrd.cpio.gz, manifest.json

The machine's apt configuration is never read or written: APT_CONFIG points to a
config file inside the cache that redirects Dir::Etc, Dir::State and Dir::Cache,
and the dpkg status apt resolves against is an empty file, so the dependency
closure is computed for an empty system.  No root is needed: packages are
unpacked with `dpkg-deb --fsys-tarfile | tar -x`, the image is made by
`mkfs.ext4 -d`, maintainer scripts never run (the few things they would do are
done here: module index, /bin/sh, passwd).
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time

MIRROR = os.environ.get("AERTRACE_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("AERTRACE_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# kernel version the user asks for -> Debian suite whose kernel (and userland) we boot.
# Each kernel runs with its own suite's userland: that is what a real host of that
# release runs, and it keeps bcc's clang, bpftrace and kmod matched to the headers
# and the module compression of that kernel.
SUITES = {
    "5.10": "bullseye",
    "6.1": "bookworm",
    "6.12": "trixie",
    # Debian testing at the time of writing (its kernel moves; the trace header says which)
    "7.2": "forky",
}

# What the guest needs.  linux-image/-headers come from the suite's metapackages so
# we always get the suite's current ABI.
GUEST_PACKAGES = [
    "linux-image-amd64", "linux-headers-amd64",
    "busybox-static", "kmod", "pciutils", "procps",
    "python3", "python3-bpfcc", "bpftrace",
    "libc-bin", "dash", "coreutils", "util-linux",
    # Debian's own QEMU inside the guest (lab/run qemu-*): the real vfio user, with a nested TCG guest
    "qemu-system-x86",
]

BUILD_VERSION = 5  # 5: qemu-system-x86 in the guest; bump when the image layout changes so caches rebuild


# host command -> Debian package that provides it
HOST_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "depmod": "kmod",
    "mkfs.ext4": "e2fsprogs",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
    "xz": "xz-utils",
    "zstd": "zstd",
    "gcc": "gcc",
    "file": "file",
}


def ensure_host_tools(tools=None):
    """Install what the lab needs on the host (root, Debian/Ubuntu) or say the exact command."""
    tools = tools or HOST_TOOLS
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = sorted({pkg for cmd, pkg in tools.items() if not shutil.which(cmd, path=path)})
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a"):
        missing.append("libc6-dev")
    if not missing:
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    if os.geteuid() != 0:
        raise SystemExit("lab: missing host packages; run as root:\n  apt-get update && " + " ".join(cmd))
    log("installing host packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if run(cmd, env=env, check=False).returncode != 0:
        run(["apt-get", "update", "-q"], env=env)
        run(cmd, env=env)


def guest_files_digest():
    """Files baked into the image/initramfs: a change to them rebuilds the guest."""
    import hashlib
    h = hashlib.sha256()
    for n in ("stage0", "initramfs-init"):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", n), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def cache_root():
    return os.environ.get("AERTRACE_CACHE", os.path.expanduser("~/.cache/aertrace"))


def log(msg):
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


class Suite:
    def __init__(self, suite):
        self.suite = suite
        self.dir = os.path.join(cache_root(), suite)
        self.apt = os.path.join(self.dir, "apt")
        self.debs = os.path.join(self.dir, "debs")
        self.root = os.path.join(self.dir, "root")
        self.image = os.path.join(self.dir, "rootfs.ext4")
        self.kernel = os.path.join(self.dir, "vmlinuz")
        self.initrd = os.path.join(self.dir, "initrd.cpio.gz")
        self.manifest = os.path.join(self.dir, "manifest.json")

    # ---- apt, private to the cache ----
    def _apt_env(self):
        env = dict(os.environ)
        env["APT_CONFIG"] = os.path.join(self.apt, "apt.conf")
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return env

    def _write_apt_config(self):
        etc = os.path.join(self.apt, "etc")
        for d in (etc, os.path.join(etc, "apt.conf.d"), os.path.join(etc, "preferences.d"),
                  os.path.join(etc, "trusted.gpg.d"), os.path.join(etc, "sources.list.d"),
                  os.path.join(self.apt, "state", "lists", "partial"),
                  os.path.join(self.apt, "cache"), os.path.join(self.debs, "partial")):
            os.makedirs(d, exist_ok=True)
        sources = [f"deb [signed-by={KEYRING}] {MIRROR} {self.suite} main",
                   f"deb [signed-by={KEYRING}] {MIRROR} {self.suite}-updates main"]
        if self.suite not in ("sid", "unstable"):
            sources.append(f"deb [signed-by={KEYRING}] {SECURITY} {self.suite}-security main")
        with open(os.path.join(etc, "sources.list"), "w") as f:
            f.write("\n".join(sources) + "\n")
        status = os.path.join(self.apt, "state", "status")
        if not os.path.exists(status):
            open(status, "w").close()
        conf = f"""
Dir::Etc "{etc}";
Dir::Etc::SourceList "{etc}/sources.list";
Dir::Etc::SourceParts "{etc}/sources.list.d";
Dir::State "{self.apt}/state";
Dir::State::status "{status}";
Dir::Cache "{self.apt}/cache";
Dir::Cache::archives "{self.debs}";
Dir::Log "{self.apt}/log";
APT::Architecture "amd64";
APT::Architectures {{ "amd64"; }};
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Get::Assume-Yes "true";
Debug::NoLocking "true";
Acquire::Languages "none";
{'APT::Sandbox::User "root";' if os.geteuid() == 0 else ''}
Acquire::Check-Valid-Until "false";
Acquire::IndexTargets::deb::DEP-11 {{ DefaultEnabled "false"; }};
Acquire::IndexTargets::deb::Contents-deb {{ DefaultEnabled "false"; }};
"""
        with open(os.path.join(self.apt, "apt.conf"), "w") as f:
            f.write(conf)

    def fetch(self):
        self._write_apt_config()
        env = self._apt_env()
        lists = os.path.join(self.apt, "state", "lists")
        fresh = any(n.endswith("_Packages") or n.endswith("InRelease") for n in os.listdir(lists))
        if not fresh or os.environ.get("AERTRACE_REFRESH"):
            log(f"{self.suite}: apt-get update (private state in {self.apt})")
            run(["apt-get", "-q", "update"], env=env, stdout=subprocess.DEVNULL)
        log(f"{self.suite}: resolving and downloading guest packages")
        # install --download-only against an empty status file = full dependency closure
        out = run(["apt-get", "-q", "install", "--download-only", "--print-uris"] + GUEST_PACKAGES,
                  env=env, capture_output=True, text=True).stdout
        uris = re.findall(r"^'([^']+)' (\S+) (\d+)", out, re.M)
        run(["apt-get", "-q", "install", "--download-only"] + GUEST_PACKAGES,
            env=env, stdout=subprocess.DEVNULL)
        names = [u[1] for u in uris]
        return names

    # ---- root tree ----
    def build(self, force=False):
        if not force and self.is_built():
            return self.load_manifest()
        t0 = time.time()
        debnames = self.fetch()
        # all cached debs of the resolved set (already downloaded ones are not in --print-uris)
        env = self._apt_env()
        out = run(["apt-get", "-q", "install", "--download-only", "-s"] + GUEST_PACKAGES,
                  env=env, capture_output=True, text=True).stdout
        wanted = {}
        for m in re.finditer(r"^Inst (\S+) \((\S+) ", out, re.M):
            wanted[m.group(1)] = m.group(2)
        debs = []
        for fn in os.listdir(self.debs):
            if not fn.endswith(".deb"):
                continue
            pkg, ver = fn.split("_")[0], fn.split("_")[1]
            ver = ver.replace("%3a", ":")
            if wanted.get(pkg) == ver:
                debs.append(os.path.join(self.debs, fn))
        missing = set(wanted) - {os.path.basename(d).split("_")[0] for d in debs}
        if missing:
            raise SystemExit(f"lab: packages resolved but not downloaded: {sorted(missing)}")
        log(f"{self.suite}: unpacking {len(debs)} packages into {self.root}")
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        # merged /usr: the top-level dirs are symlinks before anything is unpacked;
        # tar keeps them (--keep-directory-symlink) and files land under /usr.
        for d in ("bin", "sbin", "lib", "lib64"):
            os.makedirs(os.path.join(self.root, "usr", d), exist_ok=True)
            os.symlink(f"usr/{d}", os.path.join(self.root, d))
        for deb in sorted(debs):
            p1 = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
            run(["tar", "-x", "-C", self.root, "--keep-directory-symlink", "--no-same-owner",
                 "--warning=no-timestamp"], stdin=p1.stdout)
            if p1.wait() != 0:
                raise SystemExit(f"lab: dpkg-deb failed on {deb}")
        kver = self._kernel_release()
        self._fixup(kver)
        self._initrd(kver)
        self._mkfs()
        shutil.copyfile(self._vmlinuz(kver), self.kernel)
        man = {"suite": self.suite, "kernel_release": kver, "build_version": BUILD_VERSION,
               "packages": wanted, "guest_files": guest_files_digest(), "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "build_seconds": round(time.time() - t0, 1)}
        with open(self.manifest, "w") as f:
            json.dump(man, f, indent=1, sort_keys=True)
        log(f"{self.suite}: built {kver} in {man['build_seconds']} s")
        return man

    def is_built(self):
        try:
            m = self.load_manifest()
        except (OSError, ValueError):
            return False
        return m.get("build_version") == BUILD_VERSION and m.get("guest_files") == guest_files_digest() and all(
            os.path.exists(p) for p in (self.image, self.kernel, self.initrd))

    def load_manifest(self):
        with open(self.manifest) as f:
            return json.load(f)

    def _kernel_release(self):
        rels = sorted(os.listdir(os.path.join(self.root, "lib", "modules")))
        rels = [r for r in rels if r.endswith("-amd64") and self._vmlinuz(r)]
        if len(rels) != 1:
            raise SystemExit(f"lab: expected one kernel in the image, found {rels}")
        return rels[0]

    def _vmlinuz(self, kver):
        # /boot/vmlinuz-K up to trixie; forky's split packaging puts it in /usr/lib/modules/K/
        for p in (os.path.join(self.root, "boot", f"vmlinuz-{kver}"),
                  os.path.join(self.root, "usr", "lib", "modules", kver, "vmlinuz")):
            if os.path.exists(p):
                return p
        return None

    def _fixup(self, kver):
        r = self.root
        moddir = os.path.join(r, "lib", "modules", kver)
        # trixie ships .ko.xz; decompress so any kmod (and the initramfs' busybox insmod) loads them
        comp = []
        for dp, _, fns in os.walk(moddir):
            comp += [os.path.join(dp, f) for f in fns if f.endswith(".ko.xz") or f.endswith(".ko.zst")]
        if comp:
            log(f"{self.suite}: decompressing {len(comp)} kernel modules")
            xz = [c for c in comp if c.endswith(".xz")]
            zs = [c for c in comp if c.endswith(".zst")]
            for i in range(0, len(xz), 500):
                run(["xz", "-d", "-f"] + xz[i:i + 500])
            for i in range(0, len(zs), 500):
                run(["zstd", "-q", "-d", "--rm", "-f"] + zs[i:i + 500])
        run([shutil.which("depmod", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"), "-b", r, kver])
        sh = os.path.join(r, "bin", "sh")
        if not os.path.lexists(sh):
            os.symlink("dash", sh)
        os.makedirs(os.path.join(r, "etc"), exist_ok=True)
        with open(os.path.join(r, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        with open(os.path.join(r, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        with open(os.path.join(r, "etc", "hostname"), "w") as f:
            f.write("aertrace-lab\n")
        for d in ("proc", "sys", "dev", "tmp", "run", "root", "aertrace", "out", "mnt"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        # stage 0 of the guest: lives in the image, mounts the repo and hands over to
        # lab/guest/stage1 from the (read-only) repo, so iterating never rebuilds the image
        here = os.path.dirname(os.path.abspath(__file__))
        dst = os.path.join(r, "sbin", "aertrace-init")
        shutil.copyfile(os.path.join(here, "guest", "stage0"), dst)
        os.chmod(dst, 0o755)

    def _initrd(self, kver):
        """A tiny initramfs: static busybox + the modules needed to mount the ext4 root."""
        moddir = os.path.join(self.root, "lib", "modules", kver)
        deps = {}
        with open(os.path.join(moddir, "modules.dep")) as f:
            for line in f:
                k, _, v = line.partition(":")
                deps[os.path.basename(k)[:-3].replace("-", "_")] = (k, v.split())
        builtin = set()
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {os.path.basename(l.strip())[:-3].replace("-", "_") for l in f}
        order, seen = [], set()

        def visit(name):
            name = name.replace("-", "_")
            if name in seen or name in builtin:
                return
            seen.add(name)
            if name not in deps:
                raise SystemExit(f"lab: module {name} neither built in nor in modules.dep")
            path, dd = deps[name]
            for d in dd:
                visit(os.path.basename(d)[:-3])
            order.append(path)
        for m in ("virtio_pci", "virtio_blk", "ext4", "crc32c_generic", "crc32c_intel"):
            if m.replace("-", "_") in deps or m in builtin:
                visit(m)
        ird = os.path.join(self.dir, "initrd")
        if os.path.exists(ird):
            shutil.rmtree(ird)
        for d in ("bin", "dev", "proc", "sys", "newroot", "lib/modules"):
            os.makedirs(os.path.join(ird, d))
        shutil.copyfile(os.path.join(self.root, "bin", "busybox"), os.path.join(ird, "bin", "busybox"))
        bb = os.path.join(ird, "bin", "busybox")
        info = run(["file", "-b", bb], capture_output=True, text=True, check=False).stdout
        if "dynamically" in info:
            raise SystemExit(f"lab: {bb} is not static ({info.strip()})")
        os.chmod(bb, 0o755)
        names = []
        for p in order:
            shutil.copyfile(os.path.join(moddir, p), os.path.join(ird, "lib", "modules", os.path.basename(p)))
            names.append(os.path.basename(p))
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "guest", "initramfs-init")) as f:
            init = f.read().replace("@MODULES@", " ".join(names))
        with open(os.path.join(ird, "init"), "w") as f:
            f.write(init)
        os.chmod(os.path.join(ird, "init"), 0o755)
        with gzip.open(self.initrd, "wb", compresslevel=1) as f:
            f.write(newc_archive(ird))

    def _mkfs(self):
        du = int(run(["du", "-sk", "--apparent-size", self.root], capture_output=True, text=True)
                 .stdout.split()[0])
        size_mb = int(du * 1.3 / 1024) + 256
        tmp = self.image + ".tmp"
        if os.path.exists(tmp):
            os.unlink(tmp)
        log(f"{self.suite}: mkfs.ext4 -d ({size_mb} MiB)")
        run(["mkfs.ext4", "-q", "-F", "-L", "aertrace", "-E", "root_owner=0:0", "-d", self.root,
             tmp, f"{size_mb}M"], stdout=subprocess.DEVNULL)
        os.replace(tmp, self.image)


def newc_archive(top):
    """cpio 'newc' archive of a directory (what the kernel unpacks as initramfs)."""
    out = bytearray()
    ino = 1

    def entry(name, mode, data=b"", nlink=1):
        nonlocal ino
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        ino += 1
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))
    for dp, dns, fns in os.walk(top):
        dns.sort()
        rel = os.path.relpath(dp, top)
        if rel != ".":
            entry(rel, 0o040755, nlink=2)
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            name = os.path.normpath(os.path.join(rel, fn))
            st = os.lstat(p)
            if os.path.islink(p):
                entry(name, 0o120777, os.readlink(p).encode())
            else:
                with open(p, "rb") as f:
                    entry(name, 0o100000 | (st.st_mode & 0o7777), f.read())
    entry("TRAILER!!!", 0)
    return bytes(out)


def suite_for(kernel):
    if kernel in SUITES:
        return SUITES[kernel]
    if re.fullmatch(r"[a-z]+", kernel):
        return kernel  # a suite name (e.g. forky, sid) for newer kernels
    raise SystemExit(f"lab: unknown kernel {kernel!r}: use one of {', '.join(SUITES)} or a Debian suite name")


if __name__ == "__main__":
    ensure_host_tools()
    s = Suite(suite_for(sys.argv[1] if len(sys.argv) > 1 else "6.1"))
    print(json.dumps(s.build(force="--force" in sys.argv), indent=1))
