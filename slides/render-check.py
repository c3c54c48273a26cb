#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""render-check.py OUT_DIR [--screenshots DIR] [DECK.html ...]: every slide
of every deck, as headless Chromium shows it at 1280x720.

Drives Debian's /usr/bin/chromium over the Chrome DevTools Protocol on a
pipe (--remote-debugging-pipe: JSON messages ending in NUL on file
descriptors 3 and 4), so it needs no network, no port and no npm package.
For each deck it loads the page, waits for reveal.js, then goes to every
slide with reveal.js's API and reports:
  console   a console error, an uncaught exception, or a log entry of
            level error (Chromium logs a file it could not load there)
  request   a request that failed (a missing image, font or script)
  image     an <img> of the slide that did not decode (naturalWidth 0)
  overflow  text or an element whose box leaves the slide's 1280x720 box,
            or an element that clips what it holds (scrollHeight >
            clientHeight with overflow other than visible)
and saves DIR/<deck>/NN.png, one screenshot per slide (NN from 01).
Prints one JSON object {deck: {"slides": N, "problems": [...]}} and exits
1 if any deck has a problem. Used by build-slides.py and tests/slides;
build-slides.py also prints the PDF with print_deck () on the same pipe.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT = 1280, 720

# What the current slide holds that leaves the slide's box, or is clipped.
# The box is .slides (reveal.js scales it; its rect is the scaled
# 1280x720), text is measured with a Range per text node, so a word that
# runs out of its cell counts too. Speaker notes are not shown.
OVERFLOW_JS = r"""
(() => {
  const slide = Reveal.getCurrentSlide();
  const box = document.querySelector('.reveal .slides').getBoundingClientRect();
  const scale = Reveal.getScale();
  const out = [];
  const name = (el) => el.tagName.toLowerCase() +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const outside = (r) => r.width > 0 && r.height > 0 &&
    (r.left < box.left - 1 || r.top < box.top - 1 ||
     r.right > box.right + 1 || r.bottom > box.bottom + 1);
  const where = (r) => `x ${Math.round((r.left - box.left) / scale)}..${Math.round((r.right - box.left) / scale)}, ` +
    `y ${Math.round((r.top - box.top) / scale)}..${Math.round((r.bottom - box.top) / scale)} of ${WIDTH}x${HEIGHT}`;
  const hidden = (el) => el.closest('aside.notes') !== null ||
    getComputedStyle(el).display === 'none';
  for (const el of [slide, ...slide.querySelectorAll('*')]) {
    if (hidden(el)) continue;
    const r = el.getBoundingClientRect();
    if (outside(r)) out.push(`${name(el)} leaves the slide (${where(r)})`);
    const style = getComputedStyle(el);
    const clipsY = style.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1;
    const clipsX = style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1;
    if (el !== slide && (clipsY || clipsX))
      out.push(`${name(el)} clips its content (${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight})`);
  }
  const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || hidden(node.parentElement)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (outside(r))
      out.push(`text "${node.textContent.trim().slice(0, 40)}" leaves the slide (${where(r)})`);
  }
  for (const img of slide.querySelectorAll('img'))
    if (!img.complete || img.naturalWidth === 0)
      out.push(`image ${img.getAttribute('src')} did not load`);
  return out;
})()
""".replace("${WIDTH}x${HEIGHT}", f"{WIDTH}x{HEIGHT}")

# Resolves once reveal.js is ready, every font is loaded and every image of
# the page is decoded (or failed: the per-slide check reports that).
READY_JS = r"""
new Promise((resolve) => {
  const done = () => Promise.all([document.fonts.ready,
      ...[...document.images].map((img) => img.decode().catch(() => null))])
    .then(() => resolve(Reveal.getTotalSlides()));
  if (window.Reveal && Reveal.isReady()) done();
  else Reveal.on('ready', done);
})
"""

# Goes to slide N (in reveal.js's order) with transitions off and waits two
# frames, so the layout and the screenshot show that slide, settled.
GOTO_JS = r"""
new Promise((resolve) => {
  Reveal.configure({ transition: 'none', backgroundTransition: 'none' });
  const slide = Reveal.getSlides()[%d];
  const at = Reveal.getIndices(slide);
  Reveal.slide(at.h, at.v, 0);
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)));
})
"""


class Chromium:
    """One headless Chromium on a DevTools pipe; bounded waits only."""

    def __init__(self, timeout=60):
        binary = shutil.which("chromium") or "/usr/bin/chromium"
        self.profile = tempfile.mkdtemp(prefix="mw-render-")
        self.timeout = timeout
        self.next_id = 0
        self.events = []
        self.buffer = b""
        # Chromium reads commands on fd 3 and writes on fd 4: the pipes are
        # moved past 10 first, so the shell's redirections cannot collide.
        commands_r, self.commands_w = os.pipe()
        self.replies_r, replies_w = os.pipe()
        high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(replies_w, fcntl.F_DUPFD, 10)
        for fd in (commands_r, replies_w):
            os.close(fd)
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--mute-audio",
                f"--window-size={WIDTH},{HEIGHT}", "about:blank"]
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{high_r} 4>&{high_w}', "bash"] + argv,
            pass_fds=(high_r, high_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        os.close(high_r)
        os.close(high_w)

    def close(self):
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        for fd in (self.commands_w, self.replies_r):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.replies_r], [], [], left)
            if ready:
                chunk = os.read(self.replies_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None, timeout=None):
        """The result of one DevTools command; events met on the way are
        kept in self.events."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") != self.next_id:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error'].get('message')}")
            return reply.get("result", {})

    def evaluate(self, session, expression, timeout=None):
        result = self.send("Runtime.evaluate",
                           {"expression": expression, "awaitPromise": True,
                            "returnByValue": True}, session, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(describe_exception(result["exceptionDetails"]))
        return result["result"].get("value")


def describe_exception(details):
    exception = details.get("exception", {})
    return exception.get("description") or details.get("text", "exception")


def problems_in(events, session):
    """What the deck's page reported: console errors, exceptions, failed
    requests, as one line each."""
    found = []
    urls = {}
    for event in events:
        if event.get("sessionId") != session:
            continue
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in params.get("args", []))
            found.append(f"console: {text}")
        elif method == "Runtime.exceptionThrown":
            found.append("console: " + describe_exception(params["exceptionDetails"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            found.append(f"console: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"request: {params.get('errorText')} "
                         f"({params.get('type', '')} {urls.get(params['requestId'], '')})")
        elif method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
    return found


def wait_loaded(browser, session, url, timeout=60):
    """Until the page at @url has loaded (Page.navigate returns before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if browser.evaluate(session, "document.readyState === 'complete' "
                                f"&& location.href === {json.dumps(url)}"):
                return
        except RuntimeError:
            pass  # the old page's context went away under the evaluation
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not load in {timeout} s")


def check_deck(browser, out, deck, screenshots):
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1,
                  "mobile": False}, session)
    browser.send("Page.navigate",
                 {"url": "file://" + os.path.join(out, deck)}, session)
    wait_loaded(browser, session, "file://" + os.path.join(out, deck))
    problems = []
    total = browser.evaluate(session, READY_JS)
    directory = os.path.join(screenshots, os.path.splitext(deck)[0])
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for index in range(total):
        browser.evaluate(session, GOTO_JS % index)
        for finding in browser.evaluate(session, OVERFLOW_JS):
            problems.append(f"slide {index + 1}: {finding}")
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
        with open(os.path.join(directory, f"{index + 1:02d}.png"), "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    # late events (a font requested by the last slide) come in first
    browser.evaluate(session, "new Promise((r) => setTimeout(() => r(1), 200))")
    problems += problems_in(browser.events, session)
    browser.send("Target.closeTarget", {"targetId": target})
    return {"slides": total, "problems": problems}


def print_deck(browser, out, deck, pdf, slides, timeout=180):
    """Prints @deck with reveal.js's ?print-pdf layout into @pdf, once the
    layout holds one page per slide (@slides) and the fonts are loaded:
    a wait on the page itself, where --print-to-pdf's time budget could
    end before the layout on a loaded machine."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    url = "file://" + os.path.join(out, deck) + "?print-pdf"
    browser.send("Page.navigate", {"url": url}, session)
    wait_loaded(browser, session, url, timeout)
    deadline = time.monotonic() + timeout
    pages = 0
    while time.monotonic() < deadline:
        pages = browser.evaluate(session, "window.Reveal && Reveal.isReady() ? "
                                 "document.querySelectorAll('.pdf-page').length : 0")
        if pages == slides:
            break
        time.sleep(0.2)
    if pages != slides:
        raise TimeoutError(f"{deck}: {pages} print pages for {slides} slides "
                           f"after {timeout} s")
    browser.evaluate(session, "document.fonts.ready.then(() => true)")
    result = browser.send("Page.printToPDF",
                          {"printBackground": True, "preferCSSPageSize": True,
                           "displayHeaderFooter": False}, session, timeout)
    with open(pdf, "wb") as f:
        f.write(base64.b64decode(result["data"]))
    browser.send("Target.closeTarget", {"targetId": target})


def check(out, decks, screenshots):
    """{deck: {"slides": N, "problems": [...]}} for @decks in @out."""
    browser = Chromium()
    try:
        return {deck: check_deck(browser, out, deck, screenshots) for deck in decks}
    finally:
        browser.close()


def main():
    args = sys.argv[1:]
    screenshots = None
    if "--screenshots" in args:
        at = args.index("--screenshots")
        screenshots = os.path.abspath(args[at + 1])
        del args[at:at + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.abspath(args[0])
    decks = args[1:] or sorted(n for n in os.listdir(out) if n.endswith(".html"))
    results = check(out, decks, screenshots or os.path.join(out, "screenshots"))
    print(json.dumps(results, indent=1))
    return 1 if any(r["problems"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
