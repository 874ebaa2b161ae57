#!/usr/bin/python3
"""Trims a field trace for the repository: drops complete vfio.rw enter/exit pairs (adjacent lines, same thread,
same region/offset/size) more than MARGIN s away from every AER event and recovery, keeps every other line (header,
lost lines, footer, host events, unpaired halves) in its order, and fixes the footer's event count. Dropping
events can only widen the gaps the analyzer infers (fewer candidate bounds), never narrow them.
Usage: trim.py IN.jsonl.gz OUT.jsonl.gz [MARGIN_S]"""
import gzip, json, sys

src, dst = sys.argv[1], sys.argv[2]
margin = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
lines = gzip.open(src, "rt").read().splitlines()
objs = [json.loads(l) for l in lines]
spans, open_rec = [], {}
for o in objs:
    t = o.get("type")
    if t == "aer.event":
        spans.append((o["ts"], o["ts"]))
    elif t == "recovery.enter":
        open_rec[o["tid"]] = o["ts"]
    elif t == "recovery.exit" and o["tid"] in open_rec:
        spans.append((open_rec.pop(o["tid"]), o["ts"]))
m = int(margin * 1e9)
def near(ts):
    return any(a - m <= ts <= b + m for a, b in spans)
keep = [True] * len(objs)
i = 1
while i < len(objs) - 1:
    a, b = objs[i], objs[i + 1]
    if (a.get("type") == "vfio.rw.enter" and b.get("type") == "vfio.rw.exit" and a["tid"] == b["tid"]
            and a.get("offset") == b.get("offset") and a.get("size") == b.get("size")
            and not near(a["ts"]) and not near(b["ts"])):
        keep[i] = keep[i + 1] = False
        i += 2
    else:
        i += 1
out = [l for l, k in zip(lines, keep) if k]
foot = json.loads(out[-1])
if foot.get("type") == "footer":
    foot["events"] = len(out) - 2
    out[-1] = json.dumps(foot, separators=(",", ":"))
with gzip.open(dst, "wt") as f:
    f.write("\n".join(out) + "\n")
print("%s: %d -> %d lines" % (dst, len(lines), len(out)))
