#!/usr/bin/python3
"""A real edgesplit-orchestrator under a control-port memory attack (issue 13's target): 300
connections each announcing a 4 MiB message and sending 10 bytes, then 300 announcing 60 KiB
(under the pre-registration cap) and sending 10 bytes. The orchestrator allocates only what
arrives: its RSS grows by less than 50 MiB, and its REST API still answers. Bounded: 600
connections on loopback, a few seconds."""
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request

BIN = os.environ.get("ES_BIN_DIR", "build/bin")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "control-flood-%d" % os.getpid())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    os.makedirs(os.path.join(TMP, "models"), exist_ok=True)
    control, http = free_port(), free_port()
    log = open(os.path.join(TMP, "orchestrator.log"), "w")
    orch = subprocess.Popen([os.path.join(BIN, "edgesplit-orchestrator"), "--control-listen", "127.0.0.1:%d" % control,
                             "--http-listen", "127.0.0.1:%d" % http, "--models-dir", os.path.join(TMP, "models"),
                             # Plaintext: the attack is on message framing after the handshake (a TLS
                             # peer must first prove a certificate; tls_attacks_test covers that door).
                             "--state-dir", "", "--tls-mode", "off"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/v1/nodes" % http, timeout=1).read()
                break
            except OSError:
                assert time.time() < deadline, "orchestrator did not start"
                time.sleep(0.1)
        before = rss_kib(orch.pid)
        for announced in (4 << 20, 60 << 10):
            socks = []
            for _ in range(300):
                s = socket.create_connection(("127.0.0.1", control), timeout=5)
                s.sendall(struct.pack(">I", announced) + b"x" * 10)
                socks.append(s)
            time.sleep(1.0)
            grown = (rss_kib(orch.pid) - before) / 1024.0
            print("announced %d bytes x 300 connections: RSS grew %.1f MiB" % (announced, grown))
            assert grown < 50, "RSS grew %.1f MiB" % grown
            body = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/v1/nodes" % http, timeout=5).read())
            assert body["nodes"] == [], body
            for s in socks:
                s.close()
        assert orch.poll() is None, "orchestrator died"
        print("control flood: ok")
    finally:
        orch.terminate()
        orch.wait(timeout=30)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
