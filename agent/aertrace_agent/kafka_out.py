"""Kafka output: the same schema-v1 lines, one per message, to a topic (--kafka), and --replay of a
recorded trace through the same path.

Key = host + "/" + boot id, taken from the header: one boot of one host stays in one partition and in
order (the producer is idempotent, so retries do not reorder). The client is the distribution's
librdkafka binding (Debian/Ubuntu python3-confluent-kafka).

The spool is librdkafka's own in-memory queue, bounded by --kafka-spool-mb: while the broker is
unreachable lines wait there (message.timeout.ms=0: they never expire) and are sent in order when it
returns. Past the bound a line is dropped and counted; as soon as the queue takes lines again a `lost`
line with that count is written into the stream, and the footer's `lost` includes every dropped line, so
the analyzer sees the hole where it happened. Delivery errors (a message the broker refused) are counted
the same way. Lines still queued when the agent stops are flushed for --kafka-flush-timeout seconds;
what is left then cannot be written anywhere and is reported on stderr.
"""
import gzip
import json
import os
import sys
import time

from .encode import lost_event

DEFAULT_TOPIC = "aertrace.events"


def import_kafka():
    try:
        import confluent_kafka
        return confluent_kafka
    except ImportError:
        raise OSError("Kafka client not found: apt-get install python3-confluent-kafka "
                      "(RHEL: dnf install python3-confluent-kafka) and run the agent with /usr/bin/python3")


def producer_config(bootstrap, spool_mb):
    return {
        "bootstrap.servers": bootstrap,
        "compression.type": "zstd",
        # order per key survives retries; acks=all comes with it
        "enable.idempotence": True,
        "linger.ms": 50,
        "message.timeout.ms": 0,                      # never expire: the spool waits for the broker
        "queue.buffering.max.kbytes": max(1, int(spool_mb * 1024)),
        "queue.buffering.max.messages": 10000000,     # the byte bound is the one that matters
        "client.id": "aertrace-agent",
    }


class KafkaOutput(object):
    """Output-compatible (write, write_line, flush, close) writer of one trace stream to Kafka."""

    def __init__(self, producer, topic, flush_timeout=30.0, me=None, log=None, record_headers=None):
        self.p = producer
        self.topic = topic
        self.key = None
        self.what = "kafka topic %s" % topic
        self.lines = 0
        self.flush_timeout = flush_timeout
        self.me = me or (os.getpid(), os.getpid(), "aertrace-agent")
        self.log = log or (lambda m: sys.stderr.write("aertrace-agent: %s\n" % m))
        self.headers = record_headers
        self.accepted_events = 0     # event lines (incl. lost lines) queued and not refused
        self.dropped = 0             # event lines dropped: spool full, or refused by the broker
        self.unreported = 0          # dropped lines not yet announced by a lost line
        self.delivery_errors = 0
        self.queue_full = 0
        self.max_ts = 0
        self.undelivered_at_close = 0
        self.heartbeat_s = 30.0
        self.last_send = time.monotonic()

    # --- Output interface ---
    def write(self, obj):
        t = obj.get("type")
        text = json.dumps(obj, separators=(",", ":"))
        if t == "header":
            self.key = ("%s/%s" % (obj.get("host", ""), obj.get("boot_id", ""))).encode("utf-8")
            self._produce(text, counted=False)
        elif t == "footer":
            self._footer(obj)
        else:
            self.write_line(text, obj.get("ts"))

    def write_line(self, text, ts=None):
        if self.unreported:
            self._announce()     # the hole sits before this line, at the last time seen
        if ts is None:
            ts = _ts_of(text)
        if isinstance(ts, int) and ts > self.max_ts:
            self.max_ts = ts
        self._produce(text, counted=True)

    def flush(self):
        self.p.poll(0)   # serve delivery reports; never blocks the trace loop
        if self.key is not None and time.monotonic() - self.last_send >= self.heartbeat_s:
            self._heartbeat()

    def _heartbeat(self):
        # A quiet host sends nothing; this empty record (not a trace line: no value, header
        # aertrace.heartbeat) tells `fleet` the agent is alive, for the host-silent alert.
        try:
            self.p.produce(self.topic, value=None, key=self.key,
                           headers=[("aertrace.heartbeat", b"1")] + list(self.headers or []))
            self.last_send = time.monotonic()
        except BufferError:
            pass

    def close(self):
        left = self.p.flush(self.flush_timeout)
        self.undelivered_at_close = left
        if left:
            self.log("%d lines still queued for Kafka after %.0f s (broker unreachable?); they are lost"
                     % (left, self.flush_timeout))

    # --- internals ---
    def _on_delivery(self, err, msg):
        if err is None:
            return
        self.delivery_errors += 1
        v = msg.value() or b""
        if b'"type":"header"' not in v and b'"type":"footer"' not in v:
            self.accepted_events -= 1
            self.dropped += 1
            self.unreported += 1
        if self.delivery_errors <= 5:
            self.log("Kafka delivery failed, counted as lost: %s" % err)

    def _send(self, data):
        if self.headers:
            self.p.produce(self.topic, value=data, key=self.key, on_delivery=self._on_delivery, headers=self.headers)
        else:
            self.p.produce(self.topic, value=data, key=self.key, on_delivery=self._on_delivery)
        self.lines += 1
        self.last_send = time.monotonic()

    def _produce(self, text, counted):
        data = text.encode("utf-8")
        full = True
        for attempt in (0, 1):
            try:
                self._send(data)
                if counted:
                    self.accepted_events += 1
                return True
            except BufferError:
                if attempt == 0:
                    self.p.poll(0)    # delivery reports may free room
            except Exception as e:   # KafkaException: e.g. the topic does not exist
                full = False
                self.delivery_errors += 1
                if self.delivery_errors <= 5:
                    self.log("Kafka refused a line, counted as lost: %s" % e)
                break
        if counted:
            self.dropped += 1
            self.unreported += 1
        if full:
            self.queue_full += 1
            if self.queue_full == 1:
                self.log("Kafka spool full (broker unreachable or slow): dropping lines, counted as lost")
        return False

    def _announce(self):
        n = self.unreported
        pid, tid, comm = self.me
        line = json.dumps(lost_event(self.max_ts, 0, n, pid, tid, comm), separators=(",", ":"))
        try:
            self._send(line.encode("utf-8"))
        except BufferError:
            return False   # still full: announced with the next line that fits
        except Exception as e:
            self.log("Kafka refused the lost line: %s" % e)
            return False
        self.accepted_events += 1
        self.unreported = 0
        return True

    def _footer(self, obj):
        # The footer must go in: wait (bounded) for room rather than drop it.
        deadline = time.monotonic() + self.flush_timeout
        while self.unreported and not self._announce() and time.monotonic() < deadline:
            self.p.poll(0.1)
        f = dict(obj)
        f["events"] = self.accepted_events
        # the source's own losses plus every line dropped here (announced or not)
        f["lost"] = max(0, int(obj.get("lost", 0))) + self.dropped
        if self.dropped:
            f["reason"] = "%s; %d lines dropped by the Kafka output" % (obj.get("reason") or "", self.dropped)
        data = json.dumps(f, separators=(",", ":")).encode("utf-8")
        while True:
            try:
                self._send(data)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    self.log("Kafka spool full: the footer could not be queued")
                    return
                self.p.poll(0.1)
            except Exception as e:
                self.log("Kafka refused the footer: %s" % e)
                return


def _ts_of(text):
    i = text.find('"ts":')
    if i < 0:
        return None
    j = i + 5
    k = j
    while k < len(text) and (text[k].isdigit() or text[k] == "-"):
        k += 1
    try:
        return int(text[j:k])
    except ValueError:
        return None


def new_producer(bootstrap, spool_mb=64):
    ck = import_kafka()
    try:
        return ck.Producer(producer_config(bootstrap, spool_mb))
    except ck.KafkaException as e:
        raise OSError("Kafka client: %s" % e)


def open_kafka(bootstrap, topic, spool_mb=64, flush_timeout=30.0, headers=None):
    return KafkaOutput(new_producer(bootstrap, spool_mb), topic, flush_timeout, record_headers=headers)


def open_trace(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "r", encoding="utf-8", errors="replace")


def replay(path, out, as_host=None):
    """Publishes a recorded trace through `out` line by line: the header's host replaced by `as_host`,
    everything else verbatim (a line that is not JSON is passed on as it is: the analyzer counts it)."""
    n = 0
    with open_trace(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            if '"type":"header"' in line or '"type":"footer"' in line or '"type": "header"' in line or '"type": "footer"' in line:
                try:
                    obj = json.loads(line)
                except ValueError:
                    out.write_line(line)
                    n += 1
                    continue
                if obj.get("type") == "header" and as_host:
                    obj["host"] = as_host
                out.write(obj)
            else:
                out.write_line(line)
            n += 1
            if n % 10000 == 0:
                out.flush()
    return n
