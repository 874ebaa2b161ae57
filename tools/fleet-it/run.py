#!/usr/bin/python3
"""Fleet integration test: real Kafka (KRaft, from Maven Central), real Prometheus (Debian), the agent's Kafka
output, two `aertrace fleet` consumers of which one is killed mid-stream.

  tools/fleet-it/run.py [--keep DIR]

1. spool: an agent replay starts while the broker is still down, with a tiny spool; it must drop and count
   lines, then drain when the broker comes up; the analyzer must see the loss (lost line + footer).
2. every committed lab trace (testdata/lab/*/*.jsonl.gz) is replayed as two hosts (<kernel>-<scenario>-a, -b):
   the -a hosts in full through `aertrace-agent --replay`; the -b hosts through the same KafkaOutput in two
   halves. Fleet A and B share the group; after the first halves are consumed, A is killed (SIGKILL) with
   the -b streams of its partitions open mid-trace; then the second halves go out and B takes over.
3. checks: the set of episodes on the episodes topic (by episode_id, with start/end/outcome/verdicts) equals
   what `aertrace analyze` gives on the same traces, none missing, none extra; duplicates (same id re-sent
   after the kill) are counted and must agree with each other. Prometheus (scraping both fleets) answers
   every query of every dashboard in dashboards/ with data; `promtool check rules` passes on the alert rules;
   the race alert fires for exactly the hosts whose traces have a confident race; the events-lost alert
   fires for the spool host.
Exit 0 when all hold; prints "fleet-it: N passed, N failed".
"""
import glob
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "agent"))

from aertrace_agent import kafka_out  # noqa: E402

EVENTS, EPISODES = "aertrace.events", "aertrace.episodes"
PARTITIONS = 8
procs = []
results = []
WORK = [None]


def log(msg):
    sys.stdout.write("fleet-it: %s\n" % msg)
    sys.stdout.flush()


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    log("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(name, cmd, out_dir, **kw):
    f = open(os.path.join(out_dir, name + ".log"), "w")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    procs.append((name, p))
    return p


def wait_port(port, timeout, what):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            time.sleep(0.5)
    raise SystemExit("fleet-it: %s did not listen on %d within %d s" % (what, port, timeout))


def http_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def metrics_text(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name, label_filter=None):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (len(line) > len(name) and line[len(name)] in "{ "):
            if label_filter and label_filter not in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
    return total


def promql(prom, q):
    return http_json("http://127.0.0.1:%d/api/v1/query?%s" % (prom, urllib.parse.urlencode({"query": q})))


def read_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def episode_key(ep, host, boot):
    verdicts = sorted((v["kind"], v["tentative"]) for v in ep["verdicts"])
    return (host, boot, ep["start_ns"], ep["device"], ep["end_ns"], ep["outcome"], tuple(verdicts))


def relay(listen_port, to_port):
    """A TCP relay on listen_port to the broker: the agent's bootstrap address becomes reachable."""
    import threading
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.close()
                except OSError:
                    pass

    def accept():
        while True:
            c, _ = srv.accept()
            u = socket.create_connection(("127.0.0.1", to_port))
            threading.Thread(target=pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()


def main():
    keep = None
    if "--keep" in sys.argv:
        keep = sys.argv[sys.argv.index("--keep") + 1]
    work = keep or tempfile.mkdtemp(prefix="aertrace-fleet-it-")
    WORK[0] = None if keep else work
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    traces = sorted(glob.glob(os.path.join(ROOT, "testdata", "lab", "*", "*.jsonl.gz")))
    if len(traces) < 25:
        raise SystemExit("fleet-it: expected the committed lab traces under testdata/lab, found %d" % len(traces))
    prom_bin = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not prom_bin or not promtool:
        raise SystemExit("fleet-it: prometheus/promtool not found: apt-get install prometheus")
    jar = os.path.join(ROOT, "analyzer", "target", "aertrace.jar")
    subprocess.run([os.path.join(ROOT, "aertrace"), "--version"], check=True, stdout=subprocess.DEVNULL)

    kport, mport_a, mport_b, pport = free_port(), free_port(), free_port(), free_port()
    boot = "127.0.0.1:%d" % kport

    # --- rules first: a broken rule file fails fast
    rules = os.path.join(ROOT, "dashboards", "prometheus", "alerts.yml")
    r = subprocess.run([promtool, "check", "rules", rules], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    check("promtool check rules", r.returncode == 0, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "")

    broker = start("kafka", [os.path.join(HERE, "kafka.sh"), os.path.join(work, "kafka"), str(kport), str(free_port())], work)
    wait_port(kport, 240, "the Kafka broker")
    log("broker up after %.0f s" % (time.time() - t0))
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": boot})
    for t, f in admin.create_topics([NewTopic(EVENTS, PARTITIONS, 1), NewTopic(EPISODES, 4, 1)]).items():
        try:
            f.result(30)
        except Exception as e:   # the spool agent may have auto-created it (same partition count)
            log("topic %s: %s" % (t, e))

    # --- 1. spool: the agent starts while no broker answers at its bootstrap address (a TCP relay to the
    # broker, not yet listening), with a 50 KiB spool; the relay opens once the agent reports the spool full.
    proxy_port = free_port()
    spool_trace = os.path.join(ROOT, "testdata", "lab", "6.1", "nonfatal.jsonl.gz")
    spool = start("spool-agent", ["/usr/bin/python3", os.path.join(ROOT, "agent", "aertrace-agent"), "--replay", spool_trace,
                                  "--kafka", "127.0.0.1:%d" % proxy_port, "--as-host", "spool-test", "--kafka-spool-mb", "0.05",
                                  "--kafka-flush-timeout", "120"], work)
    deadline = time.time() + 60
    while time.time() < deadline and "spool full" not in open(os.path.join(work, "spool-agent.log")).read():
        time.sleep(0.3)
    time.sleep(2)
    relay(proxy_port, kport)
    log("relay to the broker opened after %.0f s" % (time.time() - t0))

    # --- Prometheus scraping both fleets
    prom_dir = os.path.join(work, "prometheus")
    os.makedirs(prom_dir, exist_ok=True)
    shutil.copy(rules, os.path.join(prom_dir, "alerts.yml"))
    with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
        f.write("""global:
  scrape_interval: 2s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: aertrace-fleet
    static_configs:
      - targets: ['127.0.0.1:%d', '127.0.0.1:%d']
""" % (mport_a, mport_b))
    start("prometheus", [prom_bin, "--config.file=" + os.path.join(prom_dir, "prometheus.yml"),
                         "--storage.tsdb.path=" + os.path.join(prom_dir, "data"),
                         "--web.listen-address=127.0.0.1:%d" % pport], work)

    java = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-jar", jar, "fleet", "--bootstrap", boot,
            "--kafka-property", "session.timeout.ms=6000", "--kafka-property", "heartbeat.interval.ms=1000",
            "--commit-interval", "500"]
    fa = start("fleet-a", java + ["--metrics", "127.0.0.1:%d" % mport_a], work)
    fb = start("fleet-b", java + ["--metrics", "127.0.0.1:%d" % mport_b], work)
    wait_port(mport_a, 120, "fleet A")
    wait_port(mport_b, 120, "fleet B")
    wait_port(pport, 60, "prometheus")

    # --- 2. replay: -a hosts in full through the CLI
    hosts = {}
    for t in traces:
        kern = os.path.basename(os.path.dirname(t))
        scen = os.path.basename(t).replace(".jsonl.gz", "")
        hosts[t] = ("%s-%s-a" % (kern, scen), "%s-%s-b" % (kern, scen))
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "agent", "aertrace-agent"), "--kafka", boot]
    procs_a = []
    for i in range(3):   # three agent processes at once, twelve traces each, every trace its own host
        args = []
        for t in traces[i::3]:
            args += ["--replay", t]
        procs_a.append(subprocess.Popen(cmd + args + ["--as-host", "{dir}-{name}-a"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, universal_newlines=True))
    for p in procs_a:
        _, e = p.communicate(timeout=300)
        if p.returncode != 0:
            raise SystemExit("fleet-it: replay failed: %s" % e)
    log("replayed %d traces as -a hosts after %.0f s" % (len(traces), time.time() - t0))

    # -b hosts: first halves through the agent's KafkaOutput (the --kafka/--replay path), kept open
    producer_cfg = kafka_out.producer_config(boot, 64)
    import confluent_kafka
    outs = {}
    halves = {}
    for t in traces:
        lines = read_lines(t)
        cut = len(lines) // 2
        halves[t] = lines
        o = kafka_out.KafkaOutput(confluent_kafka.Producer(producer_cfg), EVENTS, record_headers=[("aertrace.replay", b"1")])
        h = json.loads(lines[0])
        h["host"] = hosts[t][1]
        o.write(h)
        for l in lines[1:cut]:
            o.write_line(l)
        o.p.flush(30)
        outs[t] = (o, cut)
    # wait until both fleets have read everything so far: A then holds open -b streams mid-trace
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            lag = metric_sum(metrics_text(mport_a), "aertrace_consumer_lag_messages") + \
                metric_sum(metrics_text(mport_b), "aertrace_consumer_lag_messages")
            parts = len(re.findall(r"^aertrace_consumer_lag_messages\{", metrics_text(mport_a), re.M)) + \
                len(re.findall(r"^aertrace_consumer_lag_messages\{", metrics_text(mport_b), re.M))
        except OSError:
            lag, parts = 1, 0
        if lag == 0 and parts == PARTITIONS:
            break
        time.sleep(0.5)
    ma = metrics_text(mport_a)
    open_a = metric_sum(ma, "aertrace_hosts_connected")
    pub_a = metric_sum(ma, "aertrace_episodes_published_total")
    log("before the kill: fleet A has %d open host streams, published %d episodes; B published %d"
        % (open_a, pub_a, metric_sum(metrics_text(mport_b), "aertrace_episodes_published_total")))
    check("fleet A holds open streams when killed", open_a > 0 and pub_a > 0,
          "%d open, %d published" % (open_a, pub_a))
    # Let Prometheus scrape A's final counts first: what a process counts after its last scrape dies with it
    # (the episodes topic keeps those episodes; README says so). The kill itself still lands mid-stream.
    deadline = time.time() + 90
    while time.time() < deadline:
        r = promql(pport, 'aertrace_episodes_published_total{instance="127.0.0.1:%d"}' % mport_a)["data"]["result"]
        now_a = metric_sum(metrics_text(mport_a), "aertrace_episodes_published_total")
        if r and float(r[0]["value"][1]) == now_a:
            break
        time.sleep(0.5)
    os.killpg(fa.pid, signal.SIGKILL)
    fa.wait()
    log("killed fleet A (SIGKILL) after %.0f s" % (time.time() - t0))
    for t in traces:
        o, cut = outs[t]
        lines = halves[t]
        for l in lines[cut:-1]:
            o.write_line(l)
        last = lines[-1]
        try:
            f = json.loads(last)
        except ValueError:
            f = None
        if f is not None and f.get("type") == "footer":
            o.write(f)
        else:
            o.write_line(last)
        o.close()
    log("second halves published after %.0f s" % (time.time() - t0))

    # --- expected: analyze on the same traces
    exp_json = os.path.join(work, "analyze.json")
    subprocess.run(["java", "-jar", jar, "analyze", "--format", "json", "-o", exp_json] + traces,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rep = json.load(open(exp_json))
    boots = {s["source"]: (s["header"] or {}).get("boot_id", "") for s in rep["sources"]}
    expected = {}
    race_hosts = set()
    for ep in rep["episodes"]:
        for h in hosts[ep["source"]]:
            expected[episode_key(ep, h, boots[ep["source"]])] = ep
            if any(v["category"] == "race" and not v["tentative"] for v in ep["verdicts"]):
                race_hosts.add(h)

    # --- episodes from the topic: until the expected number of distinct ids arrived (or time is up)
    c = confluent_kafka.Consumer({"bootstrap.servers": boot, "group.id": "fleet-it-reader", "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
    c.subscribe([EPISODES])
    got, raw, spool_eps = {}, 0, []
    export = open(os.path.join(work, "episodes.jsonl"), "wb")
    deadline = time.time() + 300
    last_new = time.time()
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            if len(got) >= len(expected) and time.time() - last_new > 8:
                break
            continue
        raw += 1
        export.write(m.value() + b"\n")
        d = json.loads(m.value())
        ep = d["episodes"][0]
        if d["host"] == "spool-test":
            spool_eps.append(ep)
            continue
        k = episode_key(ep, d["host"], d["boot_id"])
        if d["episode_id"] not in got:
            last_new = time.time()
        prev = got.setdefault(d["episode_id"], k)
        if prev != k:
            check("re-sent episode %s is identical" % d["episode_id"], False, "%s vs %s" % (prev, k))
        if m.key().decode() != d["host"]:
            check("episode message keyed by host", False, m.key().decode())
    c.close()
    dup = raw - len(got) - len(spool_eps)
    got_keys = set(got.values())
    exp_keys = set(expected)
    missing, extra = exp_keys - got_keys, got_keys - exp_keys
    check("episodes published == analyze (by id, start, end, outcome, verdicts)",
          not missing and not extra and len(got) == len(expected),
          "%d expected over %d hosts, %d distinct published, %d missing, %d extra, %d re-sent duplicates (same id)"
          % (len(expected), 2 * len(traces), len(got), len(missing), len(extra), dup))
    for k in list(missing)[:3]:
        log("  missing %s" % (k,))
    for k in list(extra)[:3]:
        log("  extra %s" % (k,))
    export.close()

    # --- compare over the exported topic == compare over the traces (each trace twice: hosts -a and -b)
    def cmp_json(args, name):
        out = os.path.join(work, name)
        subprocess.run(["java", "-jar", jar, "compare", "--format", "json", "-o", out] + args,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def strip(x):
            if isinstance(x, dict):
                return {k: strip(v) for k, v in x.items() if k not in ("sources", "source")}
            if isinstance(x, list):
                return [strip(v) for v in x]
            return x
        if not os.path.exists(out):
            return None
        # group statistics (the baseline, hence the comparisons' direction, follows input order)
        return sorted((strip(g) for g in json.load(open(out))["groups"]), key=lambda g: g["name"])
    ce = cmp_json([os.path.join(work, "episodes.jsonl")], "compare-episodes.json")
    ct = cmp_json(traces + traces, "compare-traces.json")
    ck = cmp_json(["--kafka", boot], "compare-kafka.json")
    check("compare on the topic (--kafka) and on episodes exported from it == compare on the traces",
          ce is not None and ce == ct and ck == ct,
          "%s kernel groups, %s episodes" % (len(ce) if ce else "?", sum(g["episodes"] for g in ce) if ce else "?"))

    # --- spool host
    spool.wait(timeout=240)
    slog = open(os.path.join(work, "spool-agent.log")).read()
    m = re.search(r"replay done: (\d+) lines, (\d+) dropped, (\d+) undelivered", slog)
    dropped = int(m.group(2)) if m else -1
    time.sleep(5)
    r = promql(pport, 'max(max_over_time(aertrace_events_lost_total{host="spool-test"}[10m]))')["data"]["result"]
    lost_metric = float(r[0]["value"][1]) if r else -1
    check("spool: broker unreachable -> lines dropped and counted; drained when it came back; loss in the stream",
          spool.returncode == 0 and dropped > 0 and lost_metric == dropped and m and m.group(3) == "0",
          "agent dropped %d of %s lines (50 KiB spool), %s undelivered, exit %s; fleet saw %d lost in-stream for spool-test"
          % (dropped, m.group(1) if m else "?", m.group(3) if m else "?", spool.returncode, lost_metric))
    sp = [e for e in spool_eps]
    log("spool-test episodes: %s" % sorted((e["outcome"]) for e in sp))

    # --- Prometheus: scraped fleet, every dashboard query has data, alerts
    time.sleep(4)
    up = promql(pport, 'up{job="aertrace-fleet"} == 1')["data"]["result"]
    check("prometheus scraped fleet", len(up) >= 1, "%d fleet targets up" % len(up))
    known_b = set(re.findall(r'^aertrace_host_last_event_age_seconds\{host="([^"]+)"', metrics_text(mport_b), re.M))
    race_host = sorted(race_hosts & known_b)[0] if race_hosts & known_b else ""   # a host the live fleet knows
    subst = {"$host": race_host, "$kernel": ".*", "$__rate_interval": "1m", "$__interval": "5s", "$__range": "1h",
             "${host}": race_host, "${kernel}": ".*"}
    nq = 0
    empty = []
    for dash in sorted(glob.glob(os.path.join(ROOT, "dashboards", "grafana", "*.json"))):
        d = json.load(open(dash))
        for panel in d.get("panels", []):
            for tgt in panel.get("targets", []):
                q = tgt.get("expr")
                if not q:
                    continue
                for a, b in subst.items():
                    q = q.replace(a, b)
                nq += 1
                res = promql(pport, q)
                if res.get("status") != "success" or not res["data"]["result"]:
                    empty.append("%s / %s: %s" % (os.path.basename(dash), panel.get("title"), q))
    check("every dashboard query returns data", nq > 0 and not empty, "%d queries, %d empty%s"
          % (nq, len(empty), ("; first: " + empty[0]) if empty else ""))
    for e in empty[1:5]:
        log("  empty: " + e)
    firing = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        alerts = http_json("http://127.0.0.1:%d/api/v1/alerts" % pport)["data"]["alerts"]
        firing = {}
        for a in alerts:
            if a["state"] == "firing":
                firing.setdefault(a["labels"]["alertname"], set()).add(a["labels"].get("host", ""))
        if firing.get("AertraceRaceDetected", set()) - {"spool-test"} == race_hosts and "spool-test" in firing.get("AertraceEventsLost", set()):
            break
        time.sleep(1)
    rf = firing.get("AertraceRaceDetected", set()) - {"spool-test"}
    check("race alert firing for exactly the fatal-race hosts", rf == race_hosts and len(race_hosts) > 0,
          "%d hosts with a confident race in analyze, %d firing, missing %s, extra %s"
          % (len(race_hosts), len(rf), sorted(race_hosts - rf)[:3], sorted(rf - race_hosts)[:3]))
    check("events-lost alert firing for the spool host", "spool-test" in firing.get("AertraceEventsLost", set()),
          "firing: %s" % sorted(firing.get("AertraceEventsLost", set()))[:5])
    log("took %.0f s; work dir %s" % (time.time() - t0, work))


def cleanup():
    for name, p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
    for name, p in reversed(procs):
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (None, 0):
            log(str(e.code))
            results.append(("setup", False))
    finally:
        cleanup()
        # the broker's data and Prometheus' TSDB: kept with --keep or when something failed
        if "--keep" not in sys.argv and results and all(ok for _, ok in results):
            if WORK[0]:
                shutil.rmtree(WORK[0], ignore_errors=True)
    npass = sum(1 for _, ok in results if ok)
    nfail = sum(1 for _, ok in results if not ok)
    print("fleet-it: %d passed, %d failed" % (npass, nfail))
    sys.exit(0 if nfail == 0 and npass > 0 else 1)
