#!/usr/bin/python3
"""A real edgesplit-orchestrator out of file descriptors (issue 13's target): started with
RLIMIT_NOFILE 64, it gets 150 connections on its HTTP port and 30 on its control port, so
accept() fails with EMFILE while connections wait in the listen queues. Its accept loops back
off instead of spinning: it uses < 5 % of a core over 3 s (from /proc/PID/stat); the failures
are counted; once the connections are released it serves an authenticated GET /v1/nodes
again. Bounded: 180 connections, ~10 s."""
import os
import resource
import shutil
import socket
import time
import urllib.request

import attack_lib as lib

TMP = os.path.join(lib.TMP_ROOT, "fd-exhaustion-%d" % os.getpid())
TOKEN = "fd-test-token"
NOFILE = 64


def main():
    os.makedirs(os.path.join(TMP, "models"), exist_ok=True)
    control, http = lib.free_port(), lib.free_port()
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    orch = lib.start([os.path.join(lib.BIN, "edgesplit-orchestrator"), "--control-listen", "127.0.0.1:%d" % control,
                      "--http-listen", "127.0.0.1:%d" % http, "--models-dir", os.path.join(TMP, "models"),
                      "--state-dir", "", "--token", TOKEN, "--tls-mode", "off",
                      # Caps above the descriptor limit, so that the descriptors run out first.
                      "--set", "http.max_connections_per_peer=1000", "--set", "http.max_connections=1000",
                      "--set", "control.max_connections_per_peer=1000", "--set", "http.header_timeout_ms=60000"],
                     os.path.join(TMP, "orchestrator.log"), preexec_fn=limit)
    auth = {"Authorization": "Bearer " + TOKEN}
    held = []
    try:
        lib.wait_http("http://127.0.0.1:%d/v1/nodes" % http, headers=auth)
        for port, n in ((http, 150), (control, 30)):
            for _ in range(n):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(1.0)  # let the accept loops run into EMFILE
        fds = lib.open_fds(orch.pid)
        print("orchestrator holds %d descriptors (limit %d) with %d connections waiting" % (fds, NOFILE, len(held)))
        assert fds >= NOFILE - 2, fds
        cpu0, t0 = lib.cpu_seconds(orch.pid), time.time()
        time.sleep(3.0)
        cpu = (lib.cpu_seconds(orch.pid) - cpu0) / (time.time() - t0) * 100
        print("CPU while out of descriptors: %.2f %% of a core" % cpu)
        assert cpu < 5, "accept loop spins: %.1f %% CPU" % cpu
        for s in held:
            s.close()
        held = []
        t1 = time.time()
        body = lib.wait_http("http://127.0.0.1:%d/v1/nodes" % http, deadline_s=20, headers=auth)
        print("serving again %.2f s after the connections were released: %s" % (time.time() - t1, body.decode()))
        metrics = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/metrics" % http), timeout=5).read().decode()
        errs = lib.metric(metrics, "edgesplit_orchestrator_accept_errors_total", port="http", reason="fd_exhausted")
        print("accept errors counted (http, fd_exhausted): %d" % errs)
        assert errs >= 1
        log = open(os.path.join(TMP, "orchestrator.log")).read()
        assert log.count("accept_failing") <= 4, "logged once per episode and port"  # http + control, maybe a relapse
        assert "accept_recovered" in log
        assert orch.poll() is None, "orchestrator died"
        print("fd exhaustion: ok")
    finally:
        for s in held:
            s.close()
        lib.stop(orch)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
