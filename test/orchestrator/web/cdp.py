#!/usr/bin/python3
"""Drives a headless Chromium over the DevTools protocol (--remote-debugging-pipe: JSON messages
ended by NUL on fds 3 and 4; no network port, no third-party client library).

  cdp.py --chromium PATH --profile DIR --url URL [--user U --password P]

opens URL in a 1280x1000 tab and answers one command per line on stdin, one line on stdout:
  wait SECONDS EXPR   polls the JavaScript EXPR every 0.2 s until it is truthy: "ok VALUE" (JSON)
                      or "timeout VALUE" (the last value)
  eval EXPR           "ok VALUE"
  screenshot FILE     "ok FILE" (PNG of the viewport)
  auth                "ok N": how often the browser asked for credentials
  quit
With --user/--password the browser's HTTP authentication prompt is answered with them, as a
person would type them (Fetch.authRequired); the page's own requests then reuse what the
browser remembers, which is what "ok N" with N = 1 shows.
"""
import argparse
import base64
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time


class Browser:
    def __init__(self, chromium, profile):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Copies above 10 first so
        # the dup2s cannot clobber each other.
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)

        libc = ctypes.CDLL(None)

        def wire():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the browser dies with its driver

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1280,1000", "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, "chromium.log"), "w"))
        for fd in (cmd_r, out_w, hi_r, hi_w):
            os.close(fd)
        self.next_id = 0
        self.lock = threading.Lock()
        self.replies = {}
        self.cv = threading.Condition()
        self.handlers = {}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self.out_r, 65536)
            if not chunk:
                with self.cv:
                    self.replies[None] = {"error": {"message": "browser closed the pipe"}}
                    self.cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self.cv:
                        self.replies[msg["id"]] = msg
                        self.cv.notify_all()
                elif msg.get("method") in self.handlers:
                    threading.Thread(target=self.handlers[msg["method"]], args=(msg,), daemon=True).start()

    def call(self, method, params=None, session=None, timeout=30):
        with self.lock:
            self.next_id += 1
            mid = self.next_id
            msg = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.cv:
            while mid not in self.replies and None not in self.replies:
                if not self.cv.wait(timeout=max(0, deadline - time.monotonic())):
                    raise RuntimeError(method + ": no reply")
            reply = self.replies.pop(mid, None) or self.replies[None]
        if "error" in reply:
            raise RuntimeError(method + ": " + reply["error"].get("message", "?"))
        return reply.get("result", {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    a = ap.parse_args()
    b = Browser(a.chromium, a.profile)
    target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    b.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, s)
    asked = [0]
    if a.user is not None:
        def paused(msg):
            b.call("Fetch.continueRequest", {"requestId": msg["params"]["requestId"]}, msg.get("sessionId"))

        def auth(msg):
            asked[0] += 1
            b.call("Fetch.continueWithAuth", {"requestId": msg["params"]["requestId"], "authChallengeResponse": {
                "response": "ProvideCredentials", "username": a.user, "password": a.password}}, msg.get("sessionId"))
        b.handlers["Fetch.requestPaused"] = paused
        b.handlers["Fetch.authRequired"] = auth
        b.call("Fetch.enable", {"handleAuthRequests": True, "patterns": [{"urlPattern": "*"}]}, s)
    b.call("Page.enable", {}, s)
    b.call("Page.navigate", {"url": a.url}, s)

    def evaluate(expr):
        r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True}, s)
        if "exceptionDetails" in r:
            return None
        return r.get("result", {}).get("value")

    for line in sys.stdin:
        words = line.rstrip("\n").split(" ", 2)
        cmd = words[0]
        try:
            if cmd == "quit":
                break
            elif cmd == "eval":
                out = "ok " + json.dumps(evaluate(line.split(" ", 1)[1]))
            elif cmd == "wait":
                deadline = time.monotonic() + float(words[1])
                value = evaluate(words[2])
                while not value and time.monotonic() < deadline:
                    time.sleep(0.2)
                    value = evaluate(words[2])
                out = ("ok " if value else "timeout ") + json.dumps(value)
            elif cmd == "screenshot":
                png = b.call("Page.captureScreenshot", {"format": "png"}, s)["data"]
                with open(words[1], "wb") as f:
                    f.write(base64.b64decode(png))
                out = "ok " + words[1]
            elif cmd == "auth":
                out = "ok %d" % asked[0]
            else:
                out = "error unknown command " + cmd
        except Exception as e:  # reported to the test, which fails with it
            out = "error " + str(e).replace("\n", " ")
        print(out, flush=True)
    try:
        b.call("Browser.close", timeout=5)
    except Exception:
        pass
    try:
        b.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        b.proc.kill()


if __name__ == "__main__":
    main()
