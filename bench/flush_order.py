#!/usr/bin/env python3
"""Check, from an strace of a running gatepost, that every message's 250
came after a flush that covers it. With the write-ahead log
(docs/durability.md): the pwrite64 of the message's record (its queue id
is in the record's first bytes) into a segment under `wal/`, then an
fdatasync of that segment started after the pwrite64 ended and finished
before the 250 was written. Most messages are committed by their record
alone, with no queue file written or renamed (docs/durability.md,
"Unwritten queue files"); one whose file is written also shows its rename
(or link) into `incoming` before the record. Without the log (messages
over the log's record limit): an fdatasync of its queue file and an fsync
of `incoming`, both started after the rename.

  strace -f -tt -T -y -s 128 -e trace=fdatasync,fsync,linkat,renameat2,pwrite64,sendto -o OUT -p PID
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

links = {}  # id -> (time, paths the file had while written)
# The target is a whole path, or a name relative to the open `incoming`
# directory (strace -y shows the descriptor's path: `17</.../incoming>`).
PUBLISH = re.compile(
    r'(?:linkat|renameat2)\(AT_FDCWD[^,]*, "([^"]+)", '
    r'(?:AT_FDCWD[^,]*, "([^"]+/incoming/([0-9A-F]+))"'
    r'|\d+<([^>]*/incoming)>, "([0-9A-F]+)"), (?:0|RENAME_NOREPLACE)\) = 0')
for start, end, pid, text, raw in calls:
    m = PUBLISH.match(text)
    if m:
        if m.group(2):
            qid, target = m.group(3), m.group(2)
        else:
            qid, target = m.group(5), m.group(4) + "/" + m.group(5)
        links[qid] = (end, (m.group(1), target), raw)
syncs = [c for c in calls if c[3].startswith("fdatasync(") and "= 0" in c[3]]
dirsyncs = [c for c in calls if c[3].startswith("fsync(") and "/incoming>" in c[3] and "= 0" in c[3]]
WAL_FD = re.compile(r'^\w+\(\d+<([^>]*/wal/[0-9A-F]{16})>')
records = {}  # id -> (end, segment path, raw): the message record
for start, end, pid, text, raw in calls:
    m = WAL_FD.match(text)
    if m and text.startswith("pwrite64("):
        # A message record: the id right before the queue file's magic.
        r = re.search(r"([0-9A-F]{6,})gatepost-queue-file ", text)
        if r:
            qid = r.group(1)
            # Octal escapes of the binary header may run into the id:
            # keep the longest suffix that is an acknowledged id later.
            records.setdefault(qid, (end, m.group(1), raw))
walsyncs = [(c, WAL_FD.match(c[3]).group(1)) for c in syncs if WAL_FD.match(c[3])]
logged = 0
acks = []
for start, end, pid, text, raw in calls:
    m = re.search(r"250 2\.0\.0 Ok: queued as ([0-9A-F]+)", text)
    if m and text.startswith(("write(", "sendto(")):
        acks.append((start, m.group(1), raw))

ok = bad = unwritten = 0
for when, qid, raw in acks:
    link = links.get(qid)
    record = next((v for k, v in records.items() if k.endswith(qid)), None)
    if not link and not record:
        bad += 1
        print(f"{qid}: neither a rename or link into incoming nor a log record seen")
        continue
    if not link:
        # Committed by its log record alone: its queue file is not
        # written (docs/durability.md, "Unwritten queue files").
        unwritten += 1
        linked = record[0]
    else:
        linked, tmp, _ = link
    if record and record[0] >= linked - 1e-6:
        logged += 1
        written, segment, _ = record
        data = [c for c, seg in walsyncs if seg == segment and c[0] >= written - 1e-6 and c[1] <= when]
        dirs = [record]
    else:
        data = [c for c in syncs if any(p in c[3] for p in tmp)
                and c[0] >= linked - 1e-6 and c[1] <= when]
        dirs = [c for c in dirsyncs if c[0] >= linked - 1e-6 and c[1] <= when]
    if data and dirs:
        ok += 1
    else:
        bad += 1
        print(f"{qid}: 250 without a covering flush (data {len(data)}, dir {len(dirs)})")
    if len(sys.argv) > 2 and sys.argv[2] == qid:
        if link:
            print(link[2])
        for c in (dirs + data if record else data + dirs):
            print(c[4] if len(c) > 3 else c[2])
        print(raw)
rounds = len(dirsyncs)
print(f"{len(acks)} messages acknowledged: {ok} after a covering flush, {bad} not; "
      f"{logged} through the write-ahead log, {unwritten} of them by their record alone "
      f"({len(walsyncs)} fdatasync of a segment), "
      f"{len(syncs) - len(walsyncs)} other fdatasync, {rounds} fsync of incoming")
sys.exit(1 if bad else 0)
