#!/usr/bin/python3
"""Issue 13, "self-declared trust", with real processes on loopback: a real edgesplit-orchestrator
whose config trusts t1 and t2, and three real edgesplit-agent processes. The attacker `evil`
registers claiming `trusted: true` and is 20x faster than the trusted nodes (they run with an
emulated compute slowdown of 20). Refused now: evil is shown as claims_trusted but not trusted,
is not chosen as entry, and gets no layer inside trusted_prefix_layers. Then the operator
revokes the entry's trust with PUT /v1/nodes/{name}/trust (cool-down 60 s, so only the revocation
path can move it): a new epoch is committed at once with the entry and the restricted layers off
that node, sequential requests through the gateway keep succeeding (they wait for the new epoch),
and the revoked node receives no new client request. After an orchestrator restart (same config
and state) the revocation still holds, whatever the agent claims at re-registration.
Bounded: every wait has a deadline; a few dozen requests."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

BIN = os.environ.get("ES_BIN_DIR", "build/bin")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "trust-%d" % os.getpid())
PREFIX = 4  # of 6 layers (embedding, 4 blocks, head)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Site:
    def __init__(self):
        (self.control, self.http, *rest) = free_ports(8)
        self.agent_ports = {"t1": rest[0:2], "t2": rest[2:4], "evil": rest[4:6]}
        self.procs = {}
        # Mutual TLS, as deployed: every node, the attacker included, holds a valid agent
        # certificate of the operator's CA. Membership is not trust.
        pki = os.path.join(TMP, "pki")
        ctl = os.path.join(BIN, "edgesplitctl")
        subprocess.run([ctl, "pki", "init", "--dir", pki], check=True, stdout=subprocess.DEVNULL)
        for name, role in [("orchestrator", "orchestrator"), ("t1", "agent"), ("t2", "agent"), ("evil", "agent")]:
            subprocess.run([ctl, "pki", "issue", "--dir", pki, "--name", name, "--role", role], check=True,
                           stdout=subprocess.DEVNULL)
        self.tls = lambda n: ["--tls-ca", os.path.join(pki, "ca.crt"), "--tls-cert", os.path.join(pki, n + ".crt"),
                              "--tls-key", os.path.join(pki, n + ".key")]

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http, path)

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def start_orchestrator(self):
        log = open(os.path.join(TMP, "orchestrator.log"), "a")
        self.procs["orch"] = subprocess.Popen(
            [os.path.join(BIN, "edgesplit-orchestrator"), "--control-listen", "127.0.0.1:%d" % self.control,
             "--http-listen", "127.0.0.1:%d" % self.http, "--models-dir", os.path.join(TMP, "models"),
             "--state-dir", os.path.join(TMP, "state"), "--heartbeat-period-ms", "100",
             "--set", "trusted_nodes=t1,t2", "--set", "policy.cooldown_s=60", "--set", "policy.evaluate_interval_ms=250",
             "--set", "rollout.drain_grace_ms=50", *self.tls("orchestrator")], stdout=log, stderr=log)
        wait_until(lambda: self.ready(), 30, "orchestrator ready")

    def ready(self):
        try:
            return urllib.request.urlopen(self.url("/readyz"), timeout=1).status == 200
        except OSError:
            return False

    def start_agent(self, name, *extra):
        data, http = self.agent_ports[name]
        log = open(os.path.join(TMP, name + ".log"), "a")
        self.procs[name] = subprocess.Popen(
            [os.path.join(BIN, "edgesplit-agent"), "--node", name, "--orchestrator", "127.0.0.1:%d" % self.control,
             "--data-listen", "127.0.0.1:%d" % data, "--http-listen", "127.0.0.1:%d" % http,
             "--models-dir", os.path.join(TMP, "models"), "--heartbeat-period-ms", "100", "--reconnect-min-ms", "50",
             "--intra-op-threads", "1", *self.tls(name), *extra], stdout=log, stderr=log)

    def nodes(self):
        return {n["name"]: n for n in self.call("GET", "/v1/nodes")[1]["nodes"]}

    def deployment(self):
        return self.call("GET", "/v1/deployments/d")[1]

    def requests_at(self, name):
        """Client requests (raw inputs) the agent `name` received on its data port."""
        page = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.agent_ports[name][1], timeout=5).read().decode()
        m = re.search(r'^edgesplit_agent_frames_in_total\{kind="request"\} (\S+)$', page, re.M)
        assert m, "no request frame counter on %s" % name
        return float(m.group(1))

    def infer(self, npy):
        req = urllib.request.Request(self.url("/v1/deployments/d/infer?deadline_ms=20000"), data=npy, method="POST",
                                     headers={"Content-Type": "application/x-npy"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_until(pred, seconds, what):
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def input_npy(seq=8, vocab=50):
    hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, %d), }" % seq
    hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack("<%dq" % seq, *[(i * 7) % vocab for i in range(seq)])


def check_plan(dep, trusted, where):
    stages = dep["stages"]
    assert stages, "%s: no stages" % where
    assert stages[0]["node"] in trusted, "%s: entry %s is not operator-trusted: %s" % (where, stages[0]["node"], stages)
    for s in stages:
        if s["first_layer"] < PREFIX:
            assert s["node"] in trusted, "%s: restricted layers on %s: %s" % (where, s["node"], stages)
    print("%s: %s" % (where, " -> ".join("%s[%d,%d)" % (s["node"], s["first_layer"], s["end_layer"]) for s in stages)))


def main():
    os.makedirs(os.path.join(TMP, "models"), exist_ok=True)
    synth = subprocess.run([os.path.join(BIN, "edgesplitctl"), "model", "synth", "--family", "gpt", "--layers", "4",
                            "--d-model", "32", "--heads", "2", "--vocab", "50", "--seq", "8", "--seed", "3",
                            "--out", os.path.join(TMP, "models", "tiny")], capture_output=True, text=True, timeout=120)
    assert synth.returncode == 0, synth.stderr
    site = Site()
    try:
        site.start_orchestrator()
        site.start_agent("t1", "--compute-slowdown", "20")
        site.start_agent("t2", "--compute-slowdown", "20")
        site.start_agent("evil", "--trusted", "true")  # the attack: claims trust, 20x faster
        wait_until(lambda: sum(n["state"] == "alive" for n in site.nodes().values()) == 3, 60, "3 agents alive")
        # Speeds are measured by each agent's compute probe (the emulated slowdown stretches it),
        # never read from the emulation settings: wait until every node has measured it.
        wait_until(lambda: all(n["speed_measured"] and n["speed"] > 0 for n in site.nodes().values()) and
                   site.nodes()["evil"]["speed"] > 10 * site.nodes()["t1"]["speed"], 60, "speeds measured")
        nodes = site.nodes()
        assert nodes["evil"]["claims_trusted"] is True and nodes["evil"]["trusted"] is False, nodes["evil"]
        assert nodes["evil"]["trust_source"] == "none", nodes["evil"]
        assert nodes["t1"]["trusted"] is True and nodes["t1"]["trust_source"] == "config", nodes["t1"]
        assert nodes["evil"]["speed"] > 10 * nodes["t1"]["speed"], (nodes["evil"]["speed"], nodes["t1"]["speed"])
        print("ok: evil claims trust, is not trusted; speed %.2f vs %.2f" % (nodes["evil"]["speed"], nodes["t1"]["speed"]))

        st, body = site.call("POST", "/v1/deployments", {"name": "d", "model": "tiny", "trusted_prefix_layers": PREFIX,
                                                      "objective": "period", "max_stages": 3})
        assert st == 201, (st, body)
        dep = wait_until(lambda: (lambda d: d if d["epoch"] >= 1 and d["status"] == "serving" else None)(site.deployment()),
                         60, "epoch 1 committed")
        check_plan(dep, {"t1", "t2"}, "epoch %d" % dep["epoch"])
        assert dep["entry_node"] != "evil", dep
        npy = input_npy()
        for _ in range(5):
            st, out = site.infer(npy)
            assert st == 200, (st, out[:300])
        reference = out
        print("ok: the entry is %s; no restricted layer on evil" % dep["stages"][0]["node"])

        # An explicit entry the operator does not trust is refused.
        st, body = site.call("POST", "/v1/deployments", {"name": "e", "model": "tiny", "entry_node": "evil"})
        assert st == 409 and "not trusted by the operator" in body["error"]["message"], (st, body)

        # Revocation: sequential requests before, during and after it; none fails.
        old_entry, old_epoch = dep["stages"][0]["node"], dep["epoch"]
        stop, failures, done = threading.Event(), [], [0]
        go = threading.Event()

        def load():
            while not stop.is_set():
                go.wait(10)
                st, out = site.infer(npy)
                if st != 200 or out != reference:
                    failures.append((st, out[:300]))
                done[0] += 1

        t = threading.Thread(target=load, daemon=True)
        t.start()
        st, body = site.call("PUT", "/v1/nodes/%s/trust" % old_entry, {"trusted": False})
        assert st == 200 and body["trusted"] is False and body["trust_source"] == "api", (st, body)
        before = site.requests_at(old_entry)  # no request was in flight: the load starts now
        go.set()
        dep = wait_until(lambda: (lambda d: d if d["epoch"] > old_epoch and d["status"] == "serving" else None)(site.deployment()),
                         30, "a new epoch after the revocation")
        wait_until(lambda: done[0] >= 5, 60, "requests on the new epoch")
        stop.set()
        t.join(timeout=60)
        assert not failures, failures
        check_plan(dep, {"t1", "t2"} - {old_entry}, "epoch %d after revoking %s" % (dep["epoch"], old_entry))
        assert dep["stages"][0]["node"] != old_entry and dep["entry_node"] == dep["stages"][0]["node"], dep
        after = site.requests_at(old_entry)
        assert after == before, "the revoked node received %d new client requests" % (after - before)
        events = site.call("GET", "/v1/events?deployment=d")[1]["events"]
        trust_decisions = [e for e in events if e["type"] == "decision" and e["trigger"] == "trust_change"
                           and e["kind"] in ("migrate", "resplit")]
        assert trust_decisions and old_entry in trust_decisions[-1]["reason"], events[-8:]
        print("ok: %d requests, 0 failed; decision: %s" % (done[0], trust_decisions[-1]["reason"]))

        # Restart: the revocation is persisted, and the agent's re-registration changes nothing.
        site.procs["orch"].send_signal(signal.SIGTERM)
        assert site.procs["orch"].wait(timeout=30) == 0
        site.start_orchestrator()
        wait_until(lambda: site.nodes().get(old_entry, {}).get("state") == "alive", 30, old_entry + " re-registered")
        n = site.nodes()[old_entry]
        assert n["trusted"] is False and n["trust_source"] == "api", n
        assert site.nodes().get("evil", {}).get("trusted") is not True
        print("ok: after a restart %s is still untrusted (%s)" % (old_entry, n["trust_source"]))
        for name, p in site.procs.items():
            assert p.poll() is None, name + " died"
        print("trust: ok")
    finally:
        site.stop()
        if os.environ.get("KEEP_TMP") is None:
            shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
