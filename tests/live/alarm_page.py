#!/usr/bin/python3
"""The live page's active alarms in headless Chromium (cdp.py): the alarm the ward raised is
listed, highest priority first, with an Ack button; a click asks for the acknowledgement token
in a prompt (answered over the DevTools protocol), the page POSTs it, and the row then shows the
alarm acknowledged, by the token's user, without its button; a second Ack does not ask again
(the token is kept for the tab). Usage: alarm_page.py URL TOKEN USER SCREENSHOT.png"""
import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chromium  # noqa: E402

url, token, user, shot = sys.argv[1:5]
slow = int(os.environ.get("BPPIPE_TEST_SLOW", "1") or 1)
browser = Chromium()
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else " (" + detail + ")"))
    failures += 0 if ok else 1


def until(fn, seconds=30):
    """fn() once it is true, or its last value after seconds x BPPIPE_TEST_SLOW."""
    deadline = time.time() + seconds * slow
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(0.1)
        value = fn()
    return value


ROWS = ("Array.from(document.querySelectorAll('#alarms tbody tr[data-alarm]')).map(tr => "
        "({id: tr.dataset.alarm, prio: tr.cells[0].textContent, patient: tr.cells[1].textContent,"
        " state: tr.querySelector('td.state').textContent, button: !!tr.querySelector('button.ack')}))")


def rows():
    try:
        return browser.js(ROWS) or []
    except RuntimeError:
        return []


def click_ack(patient):
    """Clicks the patient's Ack button outside the evaluation, so a prompt does not block it."""
    browser.js("(() => { const tr = Array.from(document.querySelectorAll('#alarms tbody tr'))"
               ".find(t => t.cells[1].textContent === %r); "
               "setTimeout(() => tr.querySelector('button.ack').click(), 0); })()" % patient)


try:
    browser.open(url)
    listed = until(lambda: len(rows()) >= 2 and rows())
    check("both active alarms are listed", len(listed or []) == 2, repr(listed))
    check("highest priority first: the crisis (high) above the older stage 2 (medium)",
          [(r["patient"], r["prio"]) for r in listed or []] ==
          [("p-crisis", "high"), ("p-stage2", "medium")], repr(listed))
    check("each has an Ack button while raised",
          all(r["button"] and r["state"].startswith("raised") for r in listed or []), repr(listed))
    check("the active alarms count is shown",
          browser.js("document.getElementById('k-active-alarms').textContent") == "2")

    click_ack("p-crisis")
    dialog = browser.wait_event("Page.javascriptDialogOpening", timeout=30 * slow)
    check("Ack asks for the token", dialog is not None and dialog["params"]["type"] == "prompt",
          repr(dialog))
    browser.send("Page.handleJavaScriptDialog", {"accept": True, "promptText": token},
                 session=browser.session)

    def acked():
        r = [x for x in rows() if x["patient"] == "p-crisis"]
        return r and "acknowledged" in r[0]["state"] and user in r[0]["state"] and r[0]

    row = until(acked)
    check("the page shows the alarm acknowledged, by " + user, bool(row), repr(rows()))
    check("without its Ack button", row and not row["button"], repr(row))
    check("the token is kept for the tab",
          browser.js("sessionStorage.getItem('bppipe-ack-token')") == token)

    click_ack("p-stage2")
    again = browser.wait_event("Page.javascriptDialogOpening", timeout=2)
    check("a second Ack does not ask again", again is None, repr(again))
    if again:
        browser.send("Page.handleJavaScriptDialog", {"accept": False}, session=browser.session)
    row2 = until(lambda: [x for x in rows() if x["patient"] == "p-stage2" and
                          "acknowledged" in x["state"]])
    check("and acknowledges the second alarm", bool(row2), repr(rows()))
    png = browser.send("Page.captureScreenshot", {"format": "png"}, session=browser.session)["data"]
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    print("screenshot: " + shot)
except Exception as e:  # a broken page or browser is a failed test, with its reason
    check("the browser session", False, str(e))
finally:
    browser.close()
sys.exit(1 if failures else 0)
