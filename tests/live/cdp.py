"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
NUL-terminated JSON on fds 3 and 4), with the standard library alone: what the live page's
browser tests share (browser.py, alarm_page.py). Events that arrive while a command waits for
its answer are kept, so a test can wait for one (a JavaScript dialog) afterwards."""
import json
import os
import select
import subprocess
import tempfile
import time


class Chromium:
    def __init__(self, window="1400,1000"):
        chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        self.profile = tempfile.mkdtemp(prefix="live-chromium-")
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child_fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-first-run",
                "--disable-gpu", "--disable-dev-shm-usage", "--no-default-browser-check",
                "--user-data-dir=" + self.profile, "--window-size=" + window, "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.out = os.fdopen(to_w, "wb", buffering=0)
        self.inp = os.fdopen(from_r, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read(self, deadline):
        """One message, or None at the deadline."""
        while time.time() < deadline:
            if b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                return json.loads(raw)
            # wait for bytes no longer than the deadline: a read alone would block past it
            if not select.select([self.inp], [], [], max(0.0, deadline - time.time()))[0]:
                continue
            chunk = self.inp.read(65536)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        return None

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.out.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise RuntimeError(method + ": no answer")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method, timeout=30):
        """The first event `method` (kept or still to come), or None after timeout."""
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            msg = self._read(deadline)
            if msg is None:
                return None
            if "method" in msg:
                self.events.append(msg)

    def open(self, url):
        """Attaches to the blank page and navigates to url; the page's session."""
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True})["sessionId"]
        self.send("Page.enable", session=self.session)
        self.send("Runtime.enable", session=self.session)
        self.send("Page.navigate", {"url": url}, session=self.session)
        return self.session

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                      session=self.session)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: " + json.dumps(r["exceptionDetails"])[:300])
        return r["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])
