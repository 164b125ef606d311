"""Helpers shared by the resource-attack tests: free ports, daemon start/stop, /proc readings,
raw data frames. Loopback only."""
import os
import socket
import struct
import subprocess
import time
import urllib.request

BIN = os.environ.get("ES_BIN_DIR", "build/bin")
TMP_ROOT = os.environ.get("ES_TEST_TMP", "/tmp")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_http(url, deadline_s=30, headers=None):
    deadline = time.time() + deadline_s
    while True:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            return urllib.request.urlopen(req, timeout=1).read()
        except OSError:
            assert time.time() < deadline, "no answer from " + url
            time.sleep(0.1)


def start(args, log_path, preexec_fn=None):
    log = open(log_path, "w")
    return subprocess.Popen(args, stdout=log, stderr=log, preexec_fn=preexec_fn)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def metric(text, name, **labels):
    """The value of one sample of Prometheus text (0 when absent)."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        key, _, value = line.rpartition(" ")
        if key == name and not want:
            return float(value)
        if key.startswith(name + "{"):
            got = ",".join(sorted(key[len(name) + 1:-1].split(",")))
            if got == want:
                return float(value)
    return 0.0


# ---- data frames (agent/transport/frame_header.h, common/proto/data.proto) ----

FRAME_RESULT, FRAME_ERROR, FRAME_PROBE = 3, 4, 5
FLOAT32 = 1


def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def frame_header(kind, request_id, payload_bytes):
    """Header + FrameMeta of a frame carrying a float32 tensor [payload_bytes / 4]."""
    shape = _varint(payload_bytes // 4)
    meta = (b"\x08" + _varint(kind) + b"\x10" + _varint(request_id) + b"\x30" + _varint(FLOAT32) +
            b"\x3a" + _varint(len(shape)) + shape)
    head = struct.pack(">IHHIIQ", 0x45534631, 1, 24, len(meta), 0, payload_bytes)
    return head + meta
