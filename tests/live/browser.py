#!/usr/bin/python3
"""Opens the live page in headless Chromium (cdp.py: the DevTools protocol on a pipe, the
standard library alone), and checks what is rendered once the page's script ran: every patient
of the ward in the table with a blood pressure, a new reading without a reload, an alert in the
events list, and the alarm burden panel: shown with the condition LIVE_EXPECT_BURDEN names, else
hidden. Saves a screenshot. Usage: browser.py URL PATIENTS SCREENSHOT.png"""
import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chromium  # noqa: E402

url, n_patients, shot = sys.argv[1], int(sys.argv[2]), sys.argv[3]
browser = Chromium()
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else " (" + detail + ")"))
    failures += 0 if ok else 1


try:
    sid = browser.open(url)
    js = browser.js

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
    png = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
               session=sid)["data"]
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    print("screenshot: " + shot)
except Exception as e:  # a broken page or browser is a failed test, with its reason
    check("the browser session", False, str(e))
finally:
    browser.close()
sys.exit(1 if failures else 0)
