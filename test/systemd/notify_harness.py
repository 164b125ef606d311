#!/usr/bin/python3
"""A stand-in for systemd's service manager where none runs (containers, CI without a systemd
PID 1): the notify socket protocol of sd_notify(3) and the watchdog of systemd.service(5).

  notify_harness.py --log FILE [--watchdog-sec S] [--abort-grace-sec S] -- COMMAND ARGS...

Starts COMMAND with NOTIFY_SOCKET (an AF_UNIX datagram socket in a temporary directory) and,
with --watchdog-sec, WATCHDOG_USEC. Like systemd with NotifyAccess=main it accepts datagrams
only from the main process (checked with SCM_CREDENTIALS) and logs each assignment as one line
"T KEY=VALUE" (T: seconds since start). Like WatchdogSec= ("the watchdog is activated when the
start-up is completed": READY=1 for Type=notify), when no WATCHDOG=1 has arrived for S seconds
since READY=1 or the last keep-alive it logs "T watchdog_timeout", sends SIGABRT (systemd's
WatchdogSignal default) and SIGKILL after the grace. The child dies with the harness
(PR_SET_PDEATHSIG), as a unit's processes die with their cgroup. SIGTERM/SIGINT to the harness are forwarded to the child (systemctl stop). When the
child exits it logs "T exit code=N" or "T exit signal=N" and exits with N or 128+N.
"""
import argparse
import ctypes
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--watchdog-sec", type=float, default=0)
    ap.add_argument("--abort-grace-sec", type=float, default=5)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        ap.error("no command")

    tmp = tempfile.mkdtemp(prefix="notify-")
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = path
    env.pop("WATCHDOG_PID", None)
    if a.watchdog_sec > 0:
        env["WATCHDOG_USEC"] = str(int(a.watchdog_sec * 1e6))
    else:
        env.pop("WATCHDOG_USEC", None)

    log = open(a.log, "a", buffering=1)
    t0 = time.monotonic()

    def note(line):
        log.write("%.3f %s\n" % (time.monotonic() - t0, line))

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1

    def die_with_harness():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    child = subprocess.Popen(cmd, env=env, preexec_fn=die_with_harness)
    forward = lambda sig, _frame: child.send_signal(sig)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    note("started pid=%d" % child.pid)

    last_keepalive = None  # armed by READY=1
    aborted_at = None
    creds_size = struct.calcsize("3i")
    while child.poll() is None:
        now = time.monotonic()
        if a.watchdog_sec > 0 and aborted_at is None and last_keepalive is not None and now - last_keepalive > a.watchdog_sec:
            note("watchdog_timeout after=%.3f" % (now - last_keepalive))
            aborted_at = now
            child.send_signal(signal.SIGABRT)
        if aborted_at is not None and now - aborted_at > a.abort_grace_sec:
            note("abort_grace_exceeded")
            child.kill()
        try:
            ready, _, _ = select.select([sock], [], [], 0.05)
        except InterruptedError:
            continue
        if not ready:
            continue
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(creds_size))
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", payload[:creds_size])[0]
        if pid != child.pid:  # NotifyAccess=main
            note("ignored_from pid=%s" % pid)
            continue
        for line in data.decode("utf-8", "replace").split("\n"):
            if not line:
                continue
            note(line)
            if line == "WATCHDOG=1" or (line == "READY=1" and last_keepalive is None):
                last_keepalive = time.monotonic()
    rc = child.returncode
    note("exit signal=%d" % -rc if rc < 0 else "exit code=%d" % rc)
    sock.close()
    os.unlink(path)
    os.rmdir(tmp)
    sys.exit(128 - rc if rc < 0 else rc)


if __name__ == "__main__":
    main()
