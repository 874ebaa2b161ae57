#!/usr/bin/python3
"""Fleet benchmark (not a test): the committed lab traces replayed as many hosts into a real KRaft broker, then

  1. `aertrace analyze` on the same traces from files (one JVM, every trace as often as it is replayed);
  2. one `aertrace fleet` consumer reading the whole topic;
  3. two consumers (a new group) reading it together;
  4. memory per open host: a fleet holding N host streams open (first halves published, no footers).

Rates are events per wall-second (from the first record to the last episode) and per CPU-second of the
analyzer process(es) (utime+stime from /proc), which is the stabler figure on a shared machine.

  tools/fleet-it/bench.py [--copies 8] [--open-hosts 200]
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as it  # noqa: E402

ROOT = it.ROOT
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1]) / 1024.0
    return 0.0


def heap_used_mib(pid):
    subprocess.run(["jcmd", str(pid), "GC.run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    used = 0
    for m in re.finditer(r"used (\d+)K", out):
        used += int(m.group(1))
    return used / 1024.0


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main():
    copies = arg("--copies", 8)
    open_hosts = arg("--open-hosts", 200)
    work = tempfile.mkdtemp(prefix="aertrace-fleet-bench-")
    traces = sorted(glob.glob(os.path.join(ROOT, "testdata", "lab", "*", "*.jsonl.gz")))
    jar = os.path.join(ROOT, "analyzer", "target", "aertrace.jar")
    subprocess.run([os.path.join(ROOT, "aertrace"), "--version"], check=True, stdout=subprocess.DEVNULL)
    kport = it.free_port()
    boot = "127.0.0.1:%d" % kport
    it.start("kafka", [os.path.join(HERE, "kafka.sh"), os.path.join(work, "kafka"), str(kport), str(it.free_port())], work)
    it.wait_port(kport, 240, "the Kafka broker")
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": boot})
    for t in ("bench.events", "bench.open"):
        admin.create_topics([NewTopic(t, 8, 1)])[t].result(30)
    admin.create_topics([NewTopic("bench.episodes", 4, 1)])["bench.episodes"].result(30)

    # publish: every trace as `copies` hosts
    t0 = time.time()
    names = ["--as-host", "{dir}-{name}-%d" % 0]
    for c in range(1, copies):
        names += ["--as-host", "{dir}-{name}-%d" % c]
    ps = []
    for i in range(2):
        a = []
        for t in traces[i::2]:
            a += ["--replay", t]
        ps.append(subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "agent", "aertrace-agent"), "--kafka", boot,
                                    "--kafka-topic", "bench.events"] + a + names,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True))
    for p in ps:
        _, e = p.communicate()
        m = re.search(r"replay done: (\d+) lines", e)
    pub_s = time.time() - t0
    lines = sum(sum(1 for l in it.read_lines(t)) for t in traces) * copies
    print("published %d lines (%d hosts) in %.1f s with two agent --replay processes: %.0f lines/s"
          % (lines, len(traces) * copies, pub_s, lines / pub_s))

    # 1. analyze from files, same traces the same number of times
    t0 = time.time()
    p = subprocess.Popen(["java", "-XX:+UseSerialGC", "-jar", jar, "analyze", "--format", "json", "-o",
                          os.path.join(work, "a.json")] + traces * copies, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    peak_cpu = ru.ru_utime + ru.ru_stime
    rep = json.load(open(os.path.join(work, "a.json")))
    events, episodes = rep["summary"]["events"], rep["summary"]["episodes"]
    print("analyze (files): %d events, %d episodes in %.1f s wall (incl. JVM start), %.1f CPU-s: %.0f events/s, %.0f events/CPU-s"
          % (events, episodes, wall, peak_cpu, events / wall, events / max(peak_cpu, 1e-9)))
    a_rate = events / max(peak_cpu, 1e-9)

    def fleet_run(n, group):
        ports = [it.free_port() for _ in range(n)]
        fs = [it.start("fleet-%s-%d" % (group, i), ["java", "-Xmx512m", "-XX:+UseSerialGC", "-jar", jar, "fleet", "--bootstrap", boot,
                                                 "--topic", "bench.events", "--episodes-topic", "bench.episodes", "--group", group,
                                                 "--metrics", "127.0.0.1:%d" % ports[i]], work) for i in range(n)]
        for pt in ports:
            it.wait_port(pt, 120, "fleet")
        cpu0 = [cpu_s(f.pid) for f in fs]
        t_first = t_done = None
        deadline = time.time() + 900
        while time.time() < deadline:
            ev = pub = 0
            for pt in ports:
                txt = it.metrics_text(pt)
                ev += it.metric_sum(txt, "aertrace_events_total")
                pub += it.metric_sum(txt, "aertrace_episodes_published_total")
            if ev > 0 and t_first is None:
                t_first = time.time()
            if pub >= episodes:
                t_done = time.time()
                break
            time.sleep(0.2)
        cpu = sum(cpu_s(f.pid) for f in fs) - sum(cpu0)
        for f in fs:
            f.terminate()
            f.wait()
        return (t_done - t_first) if t_done and t_first else float("nan"), cpu

    for n in (1, 2):
        w, c = fleet_run(n, "bench-%d" % n)
        print("fleet x%d: %d events in %.1f s from first record to last episode, %.1f CPU-s (JVM start excluded from wall, "
              "included in CPU): %.0f events/s, %.0f events/CPU-s; ratio to analyze per CPU-s %.2f"
              % (n, events, w, c, events / w, events / c, (events / c) / a_rate))

    # 4. memory per open host
    port = it.free_port()
    f = it.start("fleet-open", ["java", "-Xmx1g", "-XX:+UseSerialGC", "-jar", jar, "fleet", "--bootstrap", boot,
                                "--topic", "bench.open", "--episodes-topic", "bench.episodes", "--group", "bench-open",
                                "--metrics", "127.0.0.1:%d" % port], work)
    it.wait_port(port, 120, "fleet")
    time.sleep(3)
    h0, r0 = heap_used_mib(f.pid), rss_mib(f.pid)
    sys.path.insert(0, os.path.join(ROOT, "agent"))
    from aertrace_agent import kafka_out
    import confluent_kafka
    prod = confluent_kafka.Producer(kafka_out.producer_config(boot, 256))
    fat = it.read_lines(os.path.join(ROOT, "testdata", "lab", "6.1", "fatal-race-x20.jsonl.gz"))
    half = fat[:len(fat) // 2]
    for i in range(open_hosts):
        o = kafka_out.KafkaOutput(prod, "bench.open", record_headers=[("aertrace.replay", b"1")])
        h = json.loads(half[0])
        h["host"] = "open-%d" % i
        o.write(h)
        for l in half[1:]:
            o.write_line(l)
    prod.flush(60)
    deadline = time.time() + 300
    while time.time() < deadline:
        txt = it.metrics_text(port)
        if it.metric_sum(txt, "aertrace_events_total") >= open_hosts * (len(half) - 1) and \
                it.metric_sum(txt, "aertrace_consumer_lag_messages") == 0:
            break
        time.sleep(0.5)
    time.sleep(2)
    h1, r1 = heap_used_mib(f.pid), rss_mib(f.pid)
    print("memory: %d open hosts (each mid-way through a 20-error trace, %d lines in): heap after GC %.1f -> %.1f MiB, "
          "RSS %.0f -> %.0f MiB: %.0f KiB heap and %.0f KiB RSS per open host"
          % (open_hosts, len(half), h0, h1, r0, r1, (h1 - h0) * 1024 / open_hosts, (r1 - r0) * 1024 / open_hosts))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        it.cleanup()
