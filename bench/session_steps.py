#!/usr/bin/env python3
"""Where one SMTP session's time goes (see bench/README.md).

    bench/session_steps.py HOST PORT [SESSIONS]

Runs SESSIONS sessions (default 600) one after the other against the
server at HOST:PORT, each delivering one 1 KiB message (connect, HELO,
MAIL, RCPT, DATA, the content, QUIT), and prints the median time from
each command sent to its reply read, in microseconds. Run it against
gatepost and against the null server (`gatepost-load sink`): the
difference per step is what the server adds to it.
"""

import socket
import statistics
import sys
import time

CONTENT = (
    b"From: <sender@bench.test>\r\nTo: <rcpt@bench.test>\r\nSubject: steps\r\n\r\n"
    + (b"X" * 70 + b"\r\n") * 13
    + b".\r\n"
)
COMMANDS = [
    ("HELO", b"HELO bench.test\r\n"),
    ("MAIL", b"MAIL FROM:<sender@bench.test>\r\n"),
    ("RCPT", b"RCPT TO:<rcpt@bench.test>\r\n"),
    ("DATA", b"DATA\r\n"),
    ("content -> 250", CONTENT),
    ("QUIT", b"QUIT\r\n"),
]


def read_reply(sock: socket.socket) -> bytes:
    """Read until the end of a one-line reply; fail on a closed socket."""
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed after {reply!r}")
        reply += chunk
    return reply


def one_session(host: str, port: int, times: dict) -> None:
    start = time.perf_counter_ns()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        greeting = read_reply(sock)
        now = time.perf_counter_ns()
        if not greeting.startswith(b"220"):
            raise RuntimeError(f"greeting: {greeting!r}")
        times["connect -> 220"].append(now - start)
        for name, command in COMMANDS:
            sent = time.perf_counter_ns()
            sock.sendall(command)
            reply = read_reply(sock)
            times[name].append(time.perf_counter_ns() - sent)
            if reply[:1] not in (b"2", b"3"):
                raise RuntimeError(f"{name}: {reply!r}")
    times["whole session"].append(time.perf_counter_ns() - start)


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    host, port = sys.argv[1], int(sys.argv[2])
    sessions = int(sys.argv[3]) if len(sys.argv) > 3 else 600
    names = ["connect -> 220"] + [n for n, _ in COMMANDS] + ["whole session"]
    warm = {name: [] for name in names}
    for _ in range(min(100, sessions)):
        one_session(host, port, warm)
    times = {name: [] for name in names}
    for _ in range(sessions):
        one_session(host, port, times)
    for name in names:
        print(f"{name:16s} {statistics.median(times[name]) / 1000:8.0f} us")


if __name__ == "__main__":
    main()
