#!/usr/bin/python3
"""A real edgesplit-orchestrator (with a bearer token) under HTTP resource attacks (issue 13):
- 520 slow partial requests from one address (a header never finished) do not stop an
  authenticated GET /v1/nodes from another address from answering within 1 s; the slow
  connections past the per-peer cap are closed at once, the others once the header deadline
  passes;
- a POST announcing a 60 MiB body is answered 413 before the client has sent 1 MiB of it;
- a POST with a wrong token is answered 401 before any of its body was sent;
and the orchestrator's RSS does not grow by the bodies. Bounded: ~600 connections, ~15 s."""
import json
import os
import shutil
import socket
import time
import urllib.request

import attack_lib as lib

TMP = os.path.join(lib.TMP_ROOT, "http-slow-%d" % os.getpid())
TOKEN = "attack-test-token"
HEADER_TIMEOUT_MS = 3000


def authed_get(http, path):
    """GET from 127.0.0.2 (another host than the attacker's 127.0.0.1); seconds and JSON."""
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", http), timeout=5, source_address=("127.0.0.2", 0)) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" %
                   (path, TOKEN)).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:200]
    return time.time() - t0, json.loads(body)


def read_response(s, timeout):
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
    return data


def main():
    os.makedirs(os.path.join(TMP, "models"), exist_ok=True)
    control, http = lib.free_port(), lib.free_port()
    orch = lib.start([os.path.join(lib.BIN, "edgesplit-orchestrator"), "--control-listen", "127.0.0.1:%d" % control,
                      "--http-listen", "127.0.0.1:%d" % http, "--models-dir", os.path.join(TMP, "models"),
                      "--state-dir", "", "--token", TOKEN, "--set", "http.header_timeout_ms=%d" % HEADER_TIMEOUT_MS,
                      "--tls-mode", "off"],  # the attack is on the (plain) HTTP port
                     os.path.join(TMP, "orchestrator.log"))
    try:
        lib.wait_http("http://127.0.0.1:%d/livez" % http)
        before = lib.rss_mib(orch.pid)

        # 520 slow partial requests: a request line and half a header, never finished.
        slow = []
        t_attack = time.time()
        for _ in range(520):
            s = socket.create_connection(("127.0.0.1", http), timeout=5)
            s.sendall(b"GET /v1/nodes HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        worst = 0.0
        for _ in range(5):
            took, body = authed_get(http, "/v1/nodes")
            assert body["nodes"] == [], body
            worst = max(worst, took)
        print("520 slow partial requests held: authenticated GET /v1/nodes answered in <= %.4f s" % worst)
        assert worst < 1.0, "GET took %.3f s" % worst
        # Every slow connection is closed by the server: past the cap at once, the rest at the deadline.
        closed = 0
        for s in slow:
            s.settimeout(max(0.1, t_attack + HEADER_TIMEOUT_MS / 1000.0 + 3 - time.time()))
            try:
                if s.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
        waited = time.time() - t_attack
        print("slow connections closed by the server: %d of 520 after %.1f s" % (closed, waited))
        assert closed == 520, closed
        for s in slow:
            s.close()

        # 413 before the body: announce 60 MiB, send 64 KiB, the answer is already there.
        with socket.create_connection(("127.0.0.1", http), timeout=5) as s:
            s.sendall(("POST /v1/deployments/x/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/x-npy\r\nContent-Length: %d\r\n\r\n" % (TOKEN, 200 << 20)).encode())
            s.sendall(b"\0" * (64 << 10))
            resp = read_response(s, 5)
            assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
            print("413 after 64 KiB of a 200 MiB body:", resp.split(b"\r\n")[0].decode())
        with socket.create_connection(("127.0.0.1", http), timeout=5) as s:
            s.sendall(("PUT /v1/nodes/a/trust HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Length: %d\r\n\r\n" % (TOKEN, 2 << 20)).encode())
            resp = read_response(s, 5)
            assert resp.startswith(b"HTTP/1.1 413"), resp[:200]  # JSON routes: 1 MiB
        # 401 before the body: a wrong token and a 1 MiB body of which nothing is sent.
        with socket.create_connection(("127.0.0.1", http), timeout=5) as s:
            s.sendall(b"POST /v1/deployments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            resp = read_response(s, 5)
            assert resp.startswith(b"HTTP/1.1 401"), resp[:200]
            print("401 with 0 of 1048576 body bytes sent:", resp.split(b"\r\n")[0].decode())
        grown = lib.rss_mib(orch.pid) - before
        print("orchestrator RSS grew %.1f MiB" % grown)
        assert grown < 50, grown

        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5).read().decode()
        refused = lib.metric(metrics, "edgesplit_orchestrator_connections_refused_total", port="http", reason="max_per_peer")
        timeouts = lib.metric(metrics, "edgesplit_orchestrator_http_requests_refused_total", reason="header_timeout")
        print("refused at accept (max_per_peer): %d, header timeouts: %d" % (refused, timeouts))
        assert refused + timeouts == 520, (refused, timeouts)
        assert lib.metric(metrics, "edgesplit_orchestrator_http_requests_refused_total", reason="body_too_large") == 2
        assert lib.metric(metrics, "edgesplit_orchestrator_http_requests_refused_total", reason="unauthenticated") == 1
        assert orch.poll() is None, "orchestrator died"
        print("http slow: ok")
    finally:
        lib.stop(orch)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
