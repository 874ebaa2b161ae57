"""Kafka output bookkeeping: spool full -> dropped lines counted, announced by a lost line, footer adjusted.

A stand-in producer with a fixed queue size plays the part of librdkafka's bounded queue here so the
accounting is checked line by line without a broker; the same path against a real KRaft broker (broker
down, tiny spool, broker up, drained) runs in the fleet integration suite (tools/fleet-it/run.sh).
"""
import gzip
import json
import os
import tempfile
import unittest

from aertrace_agent import kafka_out
from tests.util import AGENT_DIR

REPO = os.path.dirname(AGENT_DIR)


class FakeMsg(object):
    def __init__(self, v):
        self._v = v

    def value(self):
        return self._v


class BoundedProducer(object):
    """Holds at most `room` messages until drain() (the broker coming back)."""

    def __init__(self, room):
        self.room = room
        self.queue = []
        self.delivered = []

    def produce(self, topic, value=None, key=None, on_delivery=None, headers=None):
        if len(self.queue) >= self.room:
            raise BufferError("Local: Queue full")
        self.queue.append((key, value, on_delivery))

    def poll(self, t=0):
        return 0

    def drain(self, fail=()):
        for i, (k, v, cb) in enumerate(self.queue):
            if i in fail:
                cb("broker refused", FakeMsg(v))
            else:
                self.delivered.append((k, v))
        self.queue = []

    def flush(self, t=0):
        self.drain()
        return 0


def header(host="h", boot="b"):
    return {"type": "header", "schema_version": 1, "host": host, "boot_id": boot, "kernel": "k", "mono_ns": 0,
            "realtime_ns": 0}


def ev(ts):
    return '{"type":"aer.event","ts":%d,"cpu":0,"pid":1,"tid":1,"comm":"irq","dev":"0000:00:02.0"}' % ts


class KafkaOutputTest(unittest.TestCase):
    def test_all_fit(self):
        p = BoundedProducer(100)
        o = kafka_out.KafkaOutput(p, "t", log=lambda m: None)
        o.write(header())
        for i in range(5):
            o.write_line(ev(100 + i))
        o.write({"type": "footer", "ts": 200, "events": 5, "lost": 0, "reason": "SIGINT"})
        o.close()
        lines = [json.loads(v) for _, v in p.delivered]
        self.assertEqual([l["type"] for l in lines], ["header"] + ["aer.event"] * 5 + ["footer"])
        self.assertEqual({k for k, _ in p.delivered}, {b"h/b"})
        self.assertEqual(lines[-1]["events"], 5)
        self.assertEqual(lines[-1]["lost"], 0)

    def test_spool_full_drops_are_counted_and_announced(self):
        p = BoundedProducer(4)
        logs = []
        o = kafka_out.KafkaOutput(p, "t", log=logs.append, flush_timeout=0)
        o.write(header())
        for i in range(10):          # header + 3 fit, 7 dropped
            o.write_line(ev(100 + i))
        self.assertEqual(o.dropped, 7)
        p.drain()                    # broker back
        o.write_line(ev(500))        # first a lost line with the 7, then this line
        o.write({"type": "footer", "ts": 600, "events": 11, "lost": 0, "reason": "SIGINT"})
        p.drain()
        lines = [json.loads(v) for _, v in p.delivered]
        types = [l["type"] for l in lines]
        self.assertEqual(types, ["header", "aer.event", "aer.event", "aer.event", "lost", "aer.event", "footer"])
        lost = lines[4]
        self.assertEqual(lost["count"], 7)
        self.assertEqual(lost["ts"], 109)          # where the stream was when the lines were dropped
        foot = lines[-1]
        self.assertEqual(foot["events"], 5)        # what the reader will count: 4 events + 1 lost line
        self.assertEqual(foot["lost"], 7)
        self.assertTrue(any("spool full" in m for m in logs))

    def test_delivery_error_counted(self):
        p = BoundedProducer(100)
        o = kafka_out.KafkaOutput(p, "t", log=lambda m: None)
        o.write(header())
        o.write_line(ev(1))
        o.write_line(ev(2))
        p.drain(fail={2})            # the second event refused
        o.write_line(ev(3))
        o.write({"type": "footer", "ts": 9, "events": 3, "lost": 0, "reason": "x"})
        p.drain()
        lines = [json.loads(v) for _, v in p.delivered]
        self.assertEqual([l["type"] for l in lines], ["header", "aer.event", "lost", "aer.event", "footer"])
        self.assertEqual(lines[-1]["lost"], 1)
        self.assertEqual(lines[-1]["events"], 3)

    def test_replay_as_host_keeps_lines_verbatim(self):
        trace = os.path.join(REPO, "testdata", "lab", "6.1", "fatal-race.jsonl.gz")
        p = BoundedProducer(10 ** 6)
        o = kafka_out.KafkaOutput(p, "t", log=lambda m: None)
        n = kafka_out.replay(trace, o, "replayed-host")
        o.close()
        with gzip.open(trace, "rt") as f:
            orig = [l.rstrip("\n") for l in f if l.strip()]
        self.assertEqual(n, len(orig))
        got = [v.decode() for _, v in p.delivered]
        self.assertEqual(json.loads(got[0])["host"], "replayed-host")
        self.assertEqual(got[1:-1], orig[1:-1])
        h = json.loads(orig[0])
        self.assertEqual({k for k, _ in p.delivered}, {("replayed-host/" + h["boot_id"]).encode()})
        self.assertEqual(json.loads(got[-1])["events"], json.loads(orig[-1])["events"])

    def test_heartbeat_on_a_quiet_stream(self):
        p = BoundedProducer(100)
        o = kafka_out.KafkaOutput(p, "t", log=lambda m: None)
        o.write(header())
        o.flush()
        self.assertEqual(len(p.queue), 1)            # nothing yet: just sent the header
        o.last_send -= 31
        o.flush()
        self.assertEqual(len(p.queue), 2)
        k, v, _ = p.queue[-1]
        self.assertIsNone(v)                          # no trace line: the analyzer never sees it
        self.assertEqual(k, b"h/b")

    def test_cli_replay_needs_kafka(self):
        from aertrace_agent import main
        with self.assertRaises(SystemExit):
            main.parse_args(["--replay", "x.jsonl"])
        with self.assertRaises(SystemExit):
            main.parse_args(["--kafka", "b:9092", "-o", "f"])


if __name__ == "__main__":
    unittest.main()
