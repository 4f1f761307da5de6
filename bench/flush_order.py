#!/usr/bin/env python3
"""Check, from an strace of a running gatepost, that every message's 250
came after a flush that covers it: an fdatasync of its queue file and an
fsync of `incoming`, both started after the file was linked into
`incoming` and both finished before the 250 was written.

  strace -f -tt -T -y -s 128 -e trace=fdatasync,fsync,linkat,sendto -o OUT -p PID
  bench/flush_order.py OUT [ID]   (ID: print that message's lines)
"""
import re
import sys
from datetime import datetime

LINE = re.compile(r"^(\d+)\s+(\d\d:\d\d:\d\d\.\d+) (.*)$")
DUR = re.compile(r"<(\d+\.\d+)>\s*$")


def ts(s):
    t = datetime.strptime(s, "%H:%M:%S.%f")
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


calls = []  # (start, end, pid, text)
unfinished = {}
for raw in open(sys.argv[1], errors="replace"):
    m = LINE.match(raw.rstrip("\n"))
    if not m:
        continue
    pid, start, rest = m.group(1), ts(m.group(2)), m.group(3)
    if rest.endswith("<unfinished ...>"):
        name = rest.split("(", 1)[0]
        unfinished[(pid, name)] = (start, rest[: -len("<unfinished ...>")].rstrip(), raw.rstrip())
        continue
    r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
    if r:
        began, text, first = unfinished.pop((pid, r.group(1)), (start, r.group(1) + "(", ""))
        d = DUR.search(rest)
        end = began + float(d.group(1)) if d else start
        calls.append((began, end, pid, text + r.group(2), first + "\n" + raw.rstrip()))
        continue
    d = DUR.search(rest)
    calls.append((start, start + float(d.group(1)) if d else start, pid, rest, raw.rstrip()))

links = {}  # id -> (time, tmp path)
for start, end, pid, text, raw in calls:
    m = re.match(r'linkat\(AT_FDCWD[^,]*, "([^"]+)", AT_FDCWD[^,]*, "[^"]+/incoming/([0-9A-F]+)", 0\) = 0', text)
    if m:
        links[m.group(2)] = (end, m.group(1), raw)
syncs = [c for c in calls if c[3].startswith("fdatasync(") and "= 0" in c[3]]
dirsyncs = [c for c in calls if c[3].startswith("fsync(") and "/incoming>" in c[3] and "= 0" in c[3]]
acks = []
for start, end, pid, text, raw in calls:
    m = re.search(r"250 2\.0\.0 Ok: queued as ([0-9A-F]+)", text)
    if m and text.startswith(("write(", "sendto(")):
        acks.append((start, m.group(1), raw))

ok = bad = 0
for when, qid, raw in acks:
    link = links.get(qid)
    if not link:
        bad += 1
        print(f"{qid}: no link into incoming seen")
        continue
    linked, tmp, _ = link
    data = [c for c in syncs if tmp in c[3] and c[0] >= linked - 1e-6 and c[1] <= when]
    dirs = [c for c in dirsyncs if c[0] >= linked - 1e-6 and c[1] <= when]
    if data and dirs:
        ok += 1
    else:
        bad += 1
        print(f"{qid}: 250 without a covering flush (data {len(data)}, dir {len(dirs)})")
    if len(sys.argv) > 2 and sys.argv[2] == qid:
        print(link[2])
        for c in data + dirs:
            print(c[4])
        print(raw)
rounds = len(dirsyncs)
print(f"{len(acks)} messages acknowledged: {ok} after a covering flush, {bad} not; "
      f"{len(syncs)} fdatasync, {rounds} fsync of incoming")
sys.exit(1 if bad else 0)
