"""The report in a real headless browser (Debian's `chromium`, scripts/install-browser.sh).

The browser is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ending with a NUL byte, on the browser's fds 3 and 4), so no port and no extra
package. The test loads the page, collects console messages, exceptions and network requests,
takes a screenshot, checks that the plot areas hold drawn pixels in the groups' colors, and
clicks a table header (a real mouse event) to check the sort.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
from report_helpers import (
    mlxp_report,
    parse_page,
    real_sweep,
)

TPF = pytest.TempPathFactory


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        message = ("chromium is not installed: run `bash scripts/install-browser.sh` (Debian's "
                   "chromium package)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


class Browser:
    """A headless chromium and one page, driven over the DevTools pipe."""

    def __init__(self, exe: str, profile: Path, width: int = 1280, height: int = 1800) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
                 "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
                 f"--window-size={width},{height}", "about:blank"]
        self.log_path = profile.parent / "chromium.log"
        with open(self.log_path, "wb") as log:
            # the browser reads commands on fd 3 and writes answers on fd 4
            self.proc = subprocess.Popen(
                ["bash", "-c", f'exec 3<&{to_browser_r} 4>&{from_browser_w}; exec "$@"',
                 "bash", exe, *flags], pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._answers: Dict[int, Dict[str, Any]] = {}
        self._inbox: queue.Queue[Dict[str, Any]] = queue.Queue()
        self.events: List[Dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.session: Optional[str] = None

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                self._inbox.put(json.loads(message))

    def _pump(self, deadline: float) -> None:
        message = self._inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        if "id" in message:
            self._answers[message["id"]] = message
        else:
            self.events.append(message)

    def send(self, method: str, params: Optional[Dict[str, Any]] = None,
             timeout: float = 60.0, browser_level: bool = False) -> Dict[str, Any]:
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if self.session and not browser_level:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while self._next_id not in self._answers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method}: no answer in {timeout} s")
            self._pump(deadline)
        answer = self._answers.pop(self._next_id)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})  # type: ignore[no-any-return]

    def wait_event(self, method: str, timeout: float = 60.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event in {timeout} s")
            try:
                self._pump(deadline)
            except queue.Empty:
                pass

    def open(self, url: str) -> None:
        targets = self.send("Target.getTargets", browser_level=True)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", {"targetId": page["targetId"],
                                                           "flatten": True},
                                 browser_level=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> np.ndarray:
        import base64

        from matplotlib import image

        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        data = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})["data"]
        path.write_bytes(base64.b64decode(data))
        return image.imread(str(path))  # floats in [0, 1], RGB(A)

    def problems(self) -> List[str]:
        """Console errors and warnings, uncaught exceptions, log entries of level error."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                                "warning",
                                                                                "assert"):
                out.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error",
                                                                               "warning"):
                out.append(f"log: {params['entry'].get('text')}")
        return out

    def requests(self) -> List[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.send("Browser.close", browser_level=True, timeout=10)
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    b = Browser(chromium(), tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


TABLE_ORDER = """
Array.from(document.querySelectorAll('#group-table tbody tr')).map(
  r => r.cells[%d].getAttribute('data-v'))
"""
HEADER_AT = """
(() => { const th = Array.from(document.querySelectorAll('#group-table thead th'))
           .find(h => h.textContent.trim() === %s);
         th.scrollIntoView({block: 'center'});
         const r = th.getBoundingClientRect();
         return [r.x + r.width / 2, r.y + r.height / 2,
                 Array.from(th.parentNode.children).indexOf(th)]; })()
"""
IMAGES = """
Array.from(document.querySelectorAll('figure img')).map(i => {
  const r = i.getBoundingClientRect();
  return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height, i.complete,
          i.naturalWidth, i.closest('figure').getAttribute('data-metric')]; })
"""


def test_report_in_a_real_browser(tmp_path_factory: TPF, tmp_path: Path, browser: Browser) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    out = tmp_path / "report.html"
    proc = mlxp_report(str(sweep_dir / "logs"), "--best-by", "train.loss", "-o", str(out),
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    browser.open(out.as_uri())
    assert browser.evaluate("document.title").startswith("mlxp report: ")
    assert browser.evaluate("document.readyState") == "complete"

    # the figures are loaded and drawn: the plot areas of the screenshot hold colored pixels
    images = browser.evaluate(IMAGES)
    assert [m for *_, m in images] == ["test.acc", "train.loss"]
    shot = browser.screenshot(tmp_path / "screenshot.png")[:, :, :3]
    blue = np.array([31, 119, 180]) / 255  # matplotlib's tab10 blue: the first group
    for x, y, w, h, complete, natural, metric in images:
        assert complete and natural > 300 and w > 300 and h > 150, (metric, w, h)
        area = shot[int(y) + 2:int(y + h) - 2, int(x) + 2:int(x + w) - 2]
        not_white = (area < 0.94).any(axis=2).mean()
        assert 0.02 < not_white < 0.6, (metric, not_white)
        near_blue = (np.abs(area - blue) < 0.08).all(axis=2).sum()
        assert near_blue > 200, (metric, near_blue)  # the curve of the first group
    page_rest = shot[: int(images[0][1]) - 40]  # above the figures: text, not a blank page
    assert (page_rest < 0.5).any(axis=2).mean() > 0.001

    # sorting: a click on a header sorts by it, a second click reverses
    expected = [float(r["cells"][5]["v"]) for r in parse_page(out.read_text()).rows]
    x, y, column = browser.evaluate(HEADER_AT % json.dumps("final train.loss"))
    assert column == 5
    before = [float(v) for v in browser.evaluate(TABLE_ORDER % column)]
    assert before == expected and before != sorted(before)  # the page starts in lr order
    browser.click(x, y)
    assert [float(v) for v in browser.evaluate(TABLE_ORDER % column)] == sorted(expected)
    x, y, _ = browser.evaluate(HEADER_AT % json.dumps("final train.loss"))
    browser.click(x, y)
    assert [float(v) for v in browser.evaluate(TABLE_ORDER % column)] == sorted(
        expected, reverse=True)
    x, y, lr_column = browser.evaluate(HEADER_AT % json.dumps("lr"))
    browser.click(x, y)
    assert browser.evaluate(TABLE_ORDER % lr_column) == ["0.01", "0.1", "0.5", "1.0"]
    best = browser.evaluate("document.querySelector('#group-table tr.best').cells[0]"
                            ".textContent")
    assert best == "1.0"

    # nothing but the file itself was loaded, and the page logged no error
    assert all(u.startswith(("file://", "data:")) for u in browser.requests()), \
        browser.requests()
    assert browser.problems() == []
