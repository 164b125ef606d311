#!/usr/bin/python3
"""A real edgesplit-agent under a data-port memory attack (issue 13's target): 8 connections,
each sending one frame with a 200 MiB payload (4 PROBE, 4 RESULT for requests nobody sent),
all of it. The agent allocates nothing from the announced length and keeps no payload that
nobody waits for: its RSS grows by less than 100 MiB, it stays up and answers /metrics. Then
an ERROR frame with a tensor (a kind that carries none) is rejected as bad_meta, and a
connection past the per-peer cap is closed and counted. Bounded: 1.6 GB over loopback, ~10 s."""
import os
import shutil
import socket
import threading
import time

import attack_lib as lib

TMP = os.path.join(lib.TMP_ROOT, "data-flood-%d" % os.getpid())
PAYLOAD = 200 << 20


def send_frame(kind, request_id, errors):
    try:
        with socket.create_connection(("127.0.0.1", DATA), timeout=30) as s:
            s.sendall(lib.frame_header(kind, request_id, PAYLOAD))
            chunk = b"\0" * (1 << 20)
            for _ in range(PAYLOAD // len(chunk)):
                s.sendall(chunk)
    except OSError as e:
        errors.append(e)


def main():
    global DATA
    os.makedirs(os.path.join(TMP, "models"), exist_ok=True)
    DATA, http = lib.free_port(), lib.free_port()
    agent = lib.start([os.path.join(lib.BIN, "edgesplit-agent"), "--node", "victim", "--data-listen",
                       "127.0.0.1:%d" % DATA, "--http-listen", "127.0.0.1:%d" % http, "--models-dir",
                       os.path.join(TMP, "models"), "--orchestrator", "", "--data-max-connections-per-peer", "16",
                       # Plaintext: the attack is on frame payloads after the handshake.
                       "--tls-mode", "off"],
                      os.path.join(TMP, "agent.log"))
    try:
        lib.wait_http("http://127.0.0.1:%d/livez" % http)
        before = lib.rss_mib(agent.pid)
        peak = before
        errors = []
        threads = [threading.Thread(target=send_frame, args=(lib.FRAME_PROBE if i < 4 else lib.FRAME_RESULT, 1000 + i, errors))
                   for i in range(8)]
        t0 = time.time()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, lib.rss_mib(agent.pid))
            time.sleep(0.05)
            assert time.time() - t0 < 120, "flood took too long"
        time.sleep(0.3)
        peak = max(peak, lib.rss_mib(agent.pid))
        print("8 x %d MiB PROBE/RESULT payload in %.1f s: RSS %.1f -> peak %.1f MiB (+%.1f)" %
              (PAYLOAD >> 20, time.time() - t0, before, peak, peak - before))
        assert not errors, errors
        assert peak - before < 100, "RSS grew %.1f MiB" % (peak - before)
        metrics = lib.wait_http("http://127.0.0.1:%d/metrics" % http).decode()
        assert lib.metric(metrics, "edgesplit_agent_frames_in_total", kind="probe") == 4, metrics
        assert lib.metric(metrics, "edgesplit_agent_frames_in_total", kind="result") == 4

        # A kind that carries no tensor, with one: a bad frame, refused before its payload.
        with socket.create_connection(("127.0.0.1", DATA), timeout=5) as s:
            s.sendall(lib.frame_header(lib.FRAME_ERROR, 7, PAYLOAD))
            s.settimeout(5)
            assert s.recv(1) == b"", "the connection should be closed"
        metrics = lib.wait_http("http://127.0.0.1:%d/metrics" % http).decode()
        assert lib.metric(metrics, "edgesplit_agent_rejected_frames_total", reason="bad_meta") == 1

        # Per-peer cap: 16 idle connections are admitted, the 17th is closed at once.
        held = [socket.create_connection(("127.0.0.1", DATA), timeout=5) for _ in range(16)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", DATA), timeout=5)
        extra.settimeout(5)
        assert extra.recv(1) == b"", "the connection past the cap should be closed"
        other = socket.create_connection(("127.0.0.1", DATA), timeout=5, source_address=("127.0.0.2", 0))
        other.settimeout(0.5)
        try:
            assert other.recv(1) != b"", "another peer address is still admitted"
        except socket.timeout:
            pass
        metrics = lib.wait_http("http://127.0.0.1:%d/metrics" % http).decode()
        assert lib.metric(metrics, "edgesplit_agent_connections_refused_total", port="data", reason="max_per_peer") == 1, metrics
        for s in held + [extra, other]:
            s.close()
        assert agent.poll() is None, "agent died"
        print("data flood: ok")
    finally:
        lib.stop(agent)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
