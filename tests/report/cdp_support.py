"""Driving headless Chromium from tests through the DevTools protocol over a pipe.

``test_report_browser.py`` loads a page once (``--dump-dom``) and reads the page's own
self-test; pages that change after loading (filters, a live run) need a browser that stays
open while the test acts. Chromium's ``--remote-debugging-pipe`` speaks the DevTools protocol
(NUL-terminated JSON) on file descriptors 3 and 4, so no WebSocket library is needed: the same
Debian ``chromium`` binary and flags as the existing browser tests, plus the pipe.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--hide-scrollbars", "--remote-debugging-pipe"]


class BrowserError(AssertionError):
    """The browser died, answered with an error, or a wait ran out."""


class Browser:
    """One headless Chromium with one page, driven synchronously from a test."""

    def __init__(self, profile: Path, *, width: int = 1400, height: int = 1000) -> None:
        assert CHROMIUM is not None, "chromium is not installed"
        self.width, self.height = width, height
        to_child, self._out = os.pipe()   # we write commands, Chromium reads fd 3
        self._in, from_child = os.pipe()  # Chromium writes fd 4, we read

        def wire() -> None:  # in the child, before exec: the pipe ends become fds 3 and 4
            read_end, write_end = os.dup(to_child), os.dup(from_child)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable"):
            self.call(domain, session=True)
        self.resize(width, height)

    # -- protocol -------------------------------------------------------------------------------
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the pipe (crashed?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def call(self, method: str, *, session: bool = False, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    # -- page -----------------------------------------------------------------------------------
    def resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def goto(self, url: str, *, ready: str = "document.readyState === 'complete'", timeout: float = 30) -> None:
        """Load ``url`` and wait until the ``ready`` expression holds."""
        self.call("Page.navigate", session=True, url=url)
        time.sleep(0.05)
        self.wait_for(ready, timeout=timeout)

    def eval(self, expression: str, *, timeout: float = 30) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 15) -> Any:
        """Poll a JavaScript expression until it is truthy in JavaScript; its value (``True`` for
        an element, which cannot cross the protocol by value)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.eval(f"(function () {{ try {{ var v = ({expression});"
                              " return [!!v, v && v.nodeType ? true : v]; } catch (e) { return [false, null]; } })()")
            if found[0]:
                return found[1]
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (hit-testing included, as for a user)."""
        box = self.eval(f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
                        " if (!e) return null; e.scrollIntoView({block: 'center'});"
                        " var r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise BrowserError(f"no element matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def type_text(self, selector: str, text: str) -> None:
        """Focus a field and type ``text`` into it (fires ``input`` events, as typing does)."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", session=True, text=text)

    def key(self, name: str) -> None:
        """Press and release a key such as ``Enter`` in the focused element."""
        code = {"Enter": 13}.get(name, 0)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", session=True, type=kind, key=name, code=name,
                      windowsVirtualKeyCode=code, text="\r" if name == "Enter" and kind == "keyDown" else "")

    def choose(self, selector: str, value: str) -> None:
        """Pick an option of a ``<select>`` (fires ``change`` as the user's pick does)."""
        self.eval(f"(function () {{ var s = document.querySelector({json.dumps(selector)}); s.value = {json.dumps(value)};"
                  " s.dispatchEvent(new Event('change', {bubbles: true})); })()")

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            height = int(self.eval("document.documentElement.scrollHeight"))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Uncaught exceptions and ``console.error`` lines the page produced so far."""
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                found.append(str(details.get("exception", {}).get("description") or details.get("text")))
            elif event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in event["params"]["args"]))
        return found

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
