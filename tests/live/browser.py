#!/usr/bin/python3
"""Opens the live page in headless Chromium, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4, so only the standard library is
needed), and checks what is rendered once the page's script ran: every patient of the ward in
the table with a blood pressure, a new reading without a reload, an alert in the events list,
and the alarm burden panel: shown with the condition LIVE_EXPECT_BURDEN names, else hidden.
Saves a screenshot. Usage: browser.py URL PATIENTS SCREENSHOT.png"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

url, n_patients, shot = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
profile = tempfile.mkdtemp(prefix="live-chromium-")
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()


def child_fds():
    os.dup2(to_chrome_r, 3)
    os.dup2(from_chrome_w, 4)


args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-first-run",
        "--disable-gpu", "--disable-dev-shm-usage", "--no-default-browser-check",
        "--user-data-dir=" + profile, "--window-size=1400,1000", "about:blank"]
if os.geteuid() == 0:
    args.insert(1, "--no-sandbox")
proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
out = os.fdopen(to_chrome_w, "wb", buffering=0)
inp = os.fdopen(from_chrome_r, "rb", buffering=0)
buf = b""
next_id = 0
failures = 0


def send(method, params=None, session=None, timeout=30):
    global next_id, buf
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    deadline = time.time() + timeout
    while time.time() < deadline:
        while b"\0" in buf:
            raw, buf = buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
        chunk = inp.read(65536)
        if not chunk:
            raise RuntimeError("chromium closed the pipe")
        buf += chunk
    raise RuntimeError(method + ": no answer")


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else " (" + detail + ")"))
    failures += 0 if ok else 1


try:
    targets = send("Target.getTargets")["targetInfos"]
    page = next(t for t in targets if t["type"] == "page")
    sid = send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
    send("Page.enable", session=sid)
    send("Runtime.enable", session=sid)
    send("Page.navigate", {"url": url}, session=sid)

    def js(expr):
        r = send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: " + json.dumps(r["exceptionDetails"])[:300])
        return r["result"].get("value")

    rows_js = ("Array.from(document.querySelectorAll('#patients tbody tr')).map(tr => "
               "[tr.dataset.patient, tr.querySelector('td.bp').textContent, "
               "tr.querySelector('td.time').textContent])")
    rows = []
    for _ in range(60):  # up to 15 s for the page to draw the whole ward
        time.sleep(0.25)
        try:
            rows = js(rows_js) or []
        except RuntimeError:
            rows = []
        if len(rows) >= n_patients:
            break
    js("window.__same_document = 'yes'")  # gone if the page reloads
    want = ["PAT-%03d" % i for i in range(1, n_patients + 1)]
    seen = {r[0]: r for r in rows}
    missing = [p for p in want if p not in seen]
    check("every patient of the ward is in the table", not missing, "missing %s" % missing)
    bad = [r for r in rows if not r[1] or "/" not in r[1] or not r[1].split("/")[0].isdigit()]
    check("every patient shows a blood pressure", rows and not bad, "rows %s" % (bad or rows))
    check("the token from the fragment got data (no error shown)",
          "updated" in (js("document.getElementById('status').textContent") or ""),
          js("document.getElementById('status').textContent"))

    later = rows
    for _ in range(40):  # a new reading within 10 s, without a reload
        time.sleep(0.25)
        later = js(rows_js) or []
        if sorted(later) != sorted(rows):
            break
    check("a new reading appears without a reload",
          sorted(later) != sorted(rows) and js("window.__same_document") == "yes",
          "rows unchanged: %s" % rows)

    alert = ""
    for _ in range(60):  # the ward's first critical reading
        alert = js("(document.querySelector('#events li.alert') || {}).textContent || ''")
        if alert:
            break
        time.sleep(0.25)
    check("an alert shows in the events", "ALERT" in alert and "PAT-" in alert, repr(alert))
    kpi = js("document.getElementById('k-alerts').textContent")
    check("the alerts count is shown", kpi.isdigit() and int(kpi) > 0, repr(kpi))
    bars = js("document.querySelectorAll('#risk-chart rect').length")
    check("the ML risk histogram is drawn", bars > 0, "%s bars" % bars)
    legend = js("document.getElementById('types-legend').textContent")
    check("anomalies by type have a legend", "(" in legend, repr(legend))
    if os.environ.get("LIVE_EXPECT_BURDEN"):  # a ward with [alarms]: the burden panel
        burden = {}
        for _ in range(60):
            burden = js("(() => { const p = document.getElementById('alarm-burden'); return {"
                        "hidden: p.hidden, totals: document.getElementById("
                        "'alarm-burden-totals').textContent, rows: Array.from(p.querySelectorAll("
                        "'tbody tr')).map(tr => tr.cells[0].textContent + '|' + "
                        "tr.cells[2].textContent)}; })()") or {}
            if not burden.get("hidden") and len(burden.get("rows", [])) >= 2:
                break
            time.sleep(0.25)
        check("the alarm burden panel shows alarms per patient-day",
              not burden.get("hidden") and "per patient-day" in burden.get("totals", ""),
              repr(burden))
        rows = dict(r.split("|", 1) for r in burden.get("rows", []))
        check("it has the pipeline's row and the condition's, with alarms counted",
              rows.get("all", "0").isdigit() and int(rows.get("all", "0")) > 0 and
              os.environ["LIVE_EXPECT_BURDEN"] in rows, repr(rows))
    else:
        check("the alarm burden panel stays hidden without [alarms]",
              js("document.getElementById('alarm-burden').hidden") is True)
    time.sleep(0.5)
    png = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
               session=sid)["data"]
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    print("screenshot: " + shot)
except Exception as e:  # a broken page or browser is a failed test, with its reason
    check("the browser session", False, str(e))
finally:
    try:
        send("Browser.close", timeout=5)
    except Exception:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    subprocess.run(["rm", "-rf", profile])
sys.exit(1 if failures else 0)
