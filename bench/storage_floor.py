#!/usr/bin/env python3
"""The kernel's CPU cost of the least work that makes N messages of 1 KiB
durable and delivers them, on the filesystem of the current directory
(bench/README.md, "How far the 20-session row can go here"):

  log       each message's record (1.5 KiB) written into a preallocated,
            zero-filled file, one fdatasync per group of G (the queue's
            group commit with nothing else around it)
  maildir   each message created in tmp/, written (1.3 KiB), closed, renamed
            into new/; one syncfs(2) and one fsync of new/ per group of G
            (the cheapest way docs/durability.md found)

For each: files per second, and the CPU time of the whole machine per
message (/proc/stat, so the kernel's writeback threads count) minus this
interpreter's own user time, i.e. what the kernel spent; and this process's
system time alone.

Usage: bench/storage_floor.py [N] [G]   (default 8000 messages, groups of 20)

Leave a minute between runs: the files a run removes at its end make every
file creation of the next one walk past their freed inodes for about a
minute (ext4 without a journal, bench/common_cf.sh), and its maildir row
is then several times slower.
"""
import ctypes, os, shutil, subprocess, sys, tempfile, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
G = int(sys.argv[2]) if len(sys.argv) > 2 else 20
LOG_SIZE = 64 << 20
RECORD = b"x" * 1536
BODY = b"y" * 1300
libc = ctypes.CDLL("libc.so.6", use_errno=True)
base = tempfile.mkdtemp(dir=".", prefix="storage-floor.")
# As bench/common_cf.sh's fresh_base: tmp/ and new/ placed as top-level
# directories are (ext4), away from the inodes an earlier run just freed,
# which each file creation would otherwise walk past for a minute.
subprocess.run(["chattr", "+T", base], stderr=subprocess.DEVNULL, check=False)


def machine_us():
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    ticks = sum(int(x) for x in (v[0], v[1], v[2], v[5], v[6]))  # user nice system irq softirq
    return ticks * 1e6 / os.sysconf("SC_CLK_TCK")


def measure(name, work):
    os.sync()
    time.sleep(1)
    m0, r0, t0 = machine_us(), os.times(), time.monotonic()
    work()
    t1, r1, m1 = time.monotonic(), os.times(), machine_us()
    user = (r1.user - r0.user) * 1e6
    system = (r1.system - r0.system) * 1e6
    print(f"{name:8s} {N / (t1 - t0):8.0f}/s   kernel {(m1 - m0 - user) / N:5.0f} µs/msg"
          f"   of it this process {system / N:5.0f} µs/msg")


def log_records():
    fd = os.open(os.path.join(base, "log"), os.O_CREAT | os.O_RDWR, 0o600)
    os.pwrite(fd, b"\0" * LOG_SIZE, 0)
    os.fsync(fd)

    def run():
        at = 0
        for _ in range(0, N, G):
            for _ in range(G):
                os.pwrite(fd, RECORD, at)
                at = (at + 4096) % LOG_SIZE
            os.fdatasync(fd)

    measure("log", run)
    os.close(fd)


def maildir():
    tmp, new = os.path.join(base, "tmp"), os.path.join(base, "new")
    os.mkdir(tmp)
    os.mkdir(new)
    new_fd = os.open(new, os.O_RDONLY)

    def run():
        for first in range(0, N, G):
            names = []
            for i in range(first, min(first + G, N)):
                name = f"m{i}"
                fd = os.open(os.path.join(tmp, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.write(fd, BODY)
                os.close(fd)
                names.append(name)
            if libc.syncfs(new_fd) != 0:
                raise OSError(ctypes.get_errno(), "syncfs")
            for name in names:
                os.rename(os.path.join(tmp, name), os.path.join(new, name))
            os.fsync(new_fd)

    measure("maildir", run)
    os.close(new_fd)


try:
    log_records()
    maildir()
finally:
    shutil.rmtree(base)
