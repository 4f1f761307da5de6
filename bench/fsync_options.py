#!/usr/bin/env python3
"""How to make N freshly written 1 KiB files durable, on the filesystem of
the current directory (docs/durability.md has the numbers of one run):

  per-message   create+write, fdatasync, link into a second directory,
                fsync that directory: one message after the other
  20 threads    the same from 20 threads at once (many smtpd processes)
  syncfs        write all, one syncfs(2), link all, one directory fsync
  parallel      write all, fdatasync all from 20 threads at once, link all,
                one directory fsync (gatepost's GroupFlush)
  sequential    write all, fdatasync one after the other, link all, one
                directory fsync
  writeback     write all, start the writeback of all (sync_file_range(2)
                SYNC_FILE_RANGE_WRITE), then fdatasync one after the
                other, link all, one directory fsync
  fadvise       the same, the writeback started by posix_fadvise(2)
                POSIX_FADV_DONTNEED instead

Usage: bench/fsync_options.py [N] [ROUNDS]   (default 1000 files, 3 rounds)
"""
import ctypes, os, shutil, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

libc = ctypes.CDLL("libc.so.6", use_errno=True)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
DATA = b"x" * 1024
base = tempfile.mkdtemp(dir=".", prefix="fsync-options.")


def fresh():
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base + "/tmp")
    os.makedirs(base + "/incoming")
    os.sync()


def create(i):
    path = f"{base}/tmp/f{i}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, DATA)
    return fd, path


def publish(i, path):
    os.link(path, f"{base}/incoming/f{i}")
    os.unlink(path)


def dirsync():
    fd = os.open(base + "/incoming", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def one_message(i):
    fd, path = create(i)
    os.fdatasync(fd)
    os.close(fd)
    publish(i, path)
    dirsync()


def per_message():
    for i in range(N):
        one_message(i)


def threads20():
    with ThreadPoolExecutor(20) as ex:
        list(ex.map(one_message, range(N)))


def batch(flush):
    files = [create(i) for i in range(N)]
    flush(files)
    for i, (fd, path) in enumerate(files):
        os.close(fd)
        publish(i, path)
    dirsync()


def syncfs(files):
    fd = os.open(base, os.O_RDONLY)
    if libc.syncfs(fd) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")
    os.close(fd)


def parallel(files):
    with ThreadPoolExecutor(20) as ex:
        list(ex.map(lambda f: os.fdatasync(f[0]), files))


def sequential(files):
    for fd, _ in files:
        os.fdatasync(fd)


SYNC_FILE_RANGE_WRITE = 2


def writeback(files):
    for fd, _ in files:
        if libc.sync_file_range(fd, ctypes.c_int64(0), ctypes.c_int64(0), SYNC_FILE_RANGE_WRITE) != 0:
            raise OSError(ctypes.get_errno(), "sync_file_range")
    sequential(files)


def fadvise(files):
    for fd, _ in files:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    sequential(files)


CASES = [
    ("per-message", per_message),
    ("20 threads", threads20),
    ("syncfs", lambda: batch(syncfs)),
    ("parallel", lambda: batch(parallel)),
    ("sequential", lambda: batch(sequential)),
    ("writeback", lambda: batch(writeback)),
    ("fadvise", lambda: batch(fadvise)),
]
results = {name: [] for name, _ in CASES}
try:
    for _ in range(ROUNDS):
        for name, run in CASES:
            fresh()
            t = time.perf_counter()
            run()
            results[name].append(N / (time.perf_counter() - t))
finally:
    shutil.rmtree(base, ignore_errors=True)
print(f"{N} files of 1 KiB, median of {ROUNDS} rounds")
for name, rates in results.items():
    rates.sort()
    print(f"{name:12s} {rates[len(rates) // 2]:8.0f} files/s")
