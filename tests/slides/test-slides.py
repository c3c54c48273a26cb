#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-slides.py (suite "slides", TAP): builds the decks from a clean
state into MW_BUILD_ROOT/slides-test/ with slides/build-slides.py, then:
  /slides/build/clean            the build works from an empty directory,
                                 run as `ninja slides` runs it (its own
                                 render check and PDF included)
  /slides/offline/<deck>         every src/href of the deck, and every url()
                                 of the CSS it loads, is a file inside the
                                 output (no network, no file outside)
  /slides/svg/from-this-build    every SVG a deck shows is in manifest.json,
                                 and this build's mw-trace, run again on the
                                 capture made by this build with the recorded
                                 options, writes the same bytes; none is in
                                 the source tree; the same for every text
                                 mw-trace wrote for an "@include text/...",
                                 and the deck holds that text
  /slides/notes/<deck>           every slide has speaker notes, the last
                                 slide asks two or three questions
  /slides/claims/<deck>          what the notes of lectures 5-7 say the
                                 sessions show is in what this build drew
                                 and kept (no AUTH before STARTTLS, three
                                 refused attempts, a 550 and its DSN, the
                                 one highlighted look-alike, ...)
  /slides/pdf/pages              the PDF has one page per slide
  /slides/render/<deck>          headless Chromium at 1280x720
                                 (slides/render-check.py) shows every slide
                                 with no console error, no file that did
                                 not load (image, font, script), no text or
                                 element leaving the slide and nothing
                                 clipped; one screenshot per slide is kept
                                 in slides-test/screenshots/<deck>/NN.png
  /slides/render/catches-faults  the same check, on a deck broken on
                                 purpose (an overlong list, a clipped code
                                 block, a missing image and font, a console
                                 error), reports each of them and nothing
                                 on its one good slide
Capturing needs root: as another user the whole file skips, saying why."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

build = os.environ["MW_BUILD_ROOT"]
source = os.environ["MW_SOURCE_ROOT"]
out = os.path.join(build, "slides-test")
results = []


def check(name, ok, why=""):
    results.append((name, ok, why))


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP not root: the slides capture sessions on lo "
              "(tcpdump), which needs root")
        return 0
    shutil.rmtree(out, ignore_errors=True)
    built = subprocess.run([sys.executable,
                            os.path.join(source, "slides", "build-slides.py"),
                            build, out], capture_output=True, text=True,
                           timeout=900)
    check("/slides/build/clean", built.returncode == 0,
          built.stdout + built.stderr)
    if built.returncode != 0:
        return report()
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    drawn = {d.get("svg", d.get("text")): d for d in manifest["diagrams"]}
    shown = set()
    pages = {}
    for deck in manifest["decks"]:
        with open(os.path.join(out, deck)) as f:
            page = f.read()
        check_offline(deck, page)
        check_notes(deck, page)
        shown |= set(re.findall(r"\]\((svg/[^)]+)\)", page))
        pages[deck] = page
    check_svgs(shown, drawn, pages)
    check_claims()
    check_render(manifest)
    check_render_catches_faults(manifest["decks"][0])
    pages = subprocess.run(["pdfinfo", os.path.join(out, manifest["pdf"])],
                           capture_output=True, text=True).stdout
    count = re.search(r"^Pages:\s+(\d+)", pages, re.M)
    total = sum(manifest["slides"].values())
    check("/slides/pdf/pages", count is not None and int(count.group(1)) == total,
          f"{count.group(1) if count else 'no'} pages for {total} slides")
    return report()


def local_file(base, ref):
    """The file @ref (relative to @base) names inside the output, or None."""
    if re.match(r"^[a-z]+:", ref) or ref.startswith("//") or ref.startswith("/"):
        return None
    path = os.path.normpath(os.path.join(base, ref.split("?")[0].split("#")[0]))
    inside = path.startswith(os.path.realpath(out) + os.sep)
    return path if inside and os.path.isfile(path) else None


def check_offline(deck, page):
    bad = []
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    refs += re.findall(r"\]\(([^)]+)\)", page)  # Markdown images
    for ref in refs:
        path = local_file(out, ref)
        if path is None:
            bad.append(ref)
        elif path.endswith(".css"):
            with open(path) as f:
                css = f.read()
            for url in re.findall(r"url\(['\"]?([^'\")]+)", css):
                if not url.startswith("data:") and \
                        local_file(os.path.dirname(path), url) is None:
                    bad.append(f"{url} (in {ref})")
    check(f"/slides/offline/{deck}", refs and not bad,
          "not inside the output: " + ", ".join(bad))


def check_notes(deck, page):
    markdown = page.split("<textarea data-template>")[1].split("</textarea>")[0]
    slides = re.split(r"^\r?\n---\r?\n$", markdown, flags=re.M)
    without = [i + 1 for i, s in enumerate(slides)
               if not re.search(r"^Note:\s*\S", s, re.M)]
    questions = re.findall(r"^\d+\. ", slides[-1].split("Note:")[0], re.M)
    check(f"/slides/notes/{deck}",
          not without and 2 <= len(questions) <= 3 and
          "Questions" in slides[-1],
          f"slides without notes: {without}; {len(questions)} questions")


def draw_again(tracer, entry, again):
    """@entry of the manifest drawn again by @tracer into the file @again."""
    argv = [tracer, "-r", os.path.join(out, entry["capture"])]
    if "svg" in entry:
        argv += ["--svg", again.name]
    subprocess.run(argv + entry["options"], check=True, timeout=60,
                   stdout=again if "text" in entry else subprocess.DEVNULL)
    again.flush()


def check_svgs(shown, drawn, pages):
    tracer = os.path.join(build, "src", "tracer", "mw-trace")
    bad = [s for s in shown if s not in drawn]
    texts = {t for t in drawn if t.startswith("text/")}
    for path in sorted((shown & set(drawn)) | texts):
        with tempfile.NamedTemporaryFile(suffix=os.path.splitext(path)[1]) as again:
            draw_again(tracer, drawn[path], again)
            with open(os.path.join(out, path), "rb") as a, \
                    open(again.name, "rb") as b:
                mine = a.read()
                if mine != b.read():
                    bad.append(path + " (differs from mw-trace's)")
        if path in texts:
            escaped = html.escape(html.escape(mine.decode().rstrip("\n")))
            if not any(escaped in page for page in pages.values()):
                bad.append(path + " (no deck holds it)")
    checked_in = [os.path.join(d, f) for d, _, fs in
                  os.walk(os.path.join(source, "slides")) for f in fs
                  if f.endswith(".svg") and "node_modules" not in d]
    check("/slides/svg/from-this-build", shown and not bad and not checked_in,
          f"{bad} {checked_in}")


# deck: [(file in the output, regular expression, (fewest, most) matches,
# the claim)]; most None: no limit
CLAIMS = {
    "05-tls.html": [
        ("svg/pop3-password.svg", r">PASS (?!\*)\S+<", (1, 1),
         "the POP3 password is readable in clear"),
        ("svg/tls-ehlo-clear.svg", r">250-STARTTLS<", (1, 1),
         "STARTTLS is offered in clear"),
        ("svg/tls-ehlo-clear.svg", r">250[- ]AUTH", (0, 0),
         "AUTH is not offered in clear"),
        ("captures/tls-client-view.txt", r"^S: 250-AUTH ", (1, 1),
         "AUTH is offered under TLS"),
        ("svg/tls-starttls.svg", r"STARTTLS: readable up to here", (1, 1),
         "the readable part ends at STARTTLS"),
        ("svg/tls-implicit.svg", r"implicit TLS: nothing on the wire", (1, 1),
         "SMTPS has nothing readable"),
        ("svg/tls-implicit-pull.svg", r"implicit TLS: nothing on the wire", (2, 2),
         "POP3S and IMAPS have nothing readable"),
    ],
    "06-queue.html": [
        ("captures/queue-log.txt", r"waiting: Connection refused", (3, None),
         "the queue was refused three times"),
        ("captures/queue-list.txt", r"attempts: [3-9]", (1, 1),
         "the queue lists the attempts"),
        ("captures/queue-client-view.txt", r"OK, will relay", (1, 1),
         "the submission was accepted for relay"),
        ("svg/queue-delivered.svg", r">250 \S+ message \S+ accepted", (1, 1),
         "the retry delivered"),
        ("svg/queue-bounce.svg", r">550 5\.1\.1 ", (1, 1), "example.org said 550"),
        ("svg/queue-bounce.svg", r">50[34] ", (1, 1),
         "the pipelined DATA or BDAT is refused: no recipient was accepted"),
        ("svg/queue-bounce.svg", r">250 \S+ message \S+ accepted", (0, 0),
         "nothing was delivered"),
        ("captures/bounce.txt", r"^Content-Type: multipart/report", (1, 1),
         "the bounce is a multipart/report"),
        ("captures/bounce.txt", r"^Action: failed$", (1, 1), "the DSN says failed"),
        ("captures/bounce.txt", r"^Status: 5\.1\.1$", (1, 1), "the DSN's status"),
    ],
    "07-security.html": [
        ("svg/sec-open-relay.svg", r">550 5\.7\.1 ", (1, 1), "the relay is denied"),
        ("svg/sec-smuggling.svg", r"look-alike of the end", (1, 1),
         "one look-alike is highlighted, not the real end"),
        ("svg/sec-smuggling.svg", r">554 5\.6\.0 ", (1, 1), "the text is refused"),
        ("text/sec-smuggling.txt", r"lint: end-of-data look-alike", (1, 1),
         "mw-trace's lint flags it"),
        ("svg/sec-auth-clear.svg", r">AUTH PLAIN \S+<", (1, 1),
         "the credentials crossed the wire"),
        ("svg/sec-auth-clear.svg", r">538 5\.7\.11 ", (1, 1),
         "AUTH before STARTTLS is refused"),
    ],
}


def check_claims():
    for deck, claims in CLAIMS.items():
        wrong = []
        for path, pattern, (fewest, most), claim in claims:
            try:
                with open(os.path.join(out, path)) as f:
                    found = len(re.findall(pattern, f.read(), re.M))
            except OSError as error:
                wrong.append(f"{path}: {error.strerror}")
                continue
            if found < fewest or (most is not None and found > most):
                wrong.append(f"{claim}: {path} has {found} of /{pattern}/")
        check(f"/slides/claims/{deck}", not wrong, "\n".join(wrong))


def render(decks):
    """render-check.py's {deck: {"slides", "problems"}} for @decks."""
    checker = subprocess.run([sys.executable,
                              os.path.join(source, "slides", "render-check.py"),
                              out] + decks, capture_output=True, text=True,
                             timeout=600)
    try:
        return json.loads(checker.stdout)
    except ValueError:
        return {deck: {"slides": 0, "problems": [checker.stderr.strip()]}
                for deck in decks}


def check_render(manifest):
    results = render(manifest["decks"])
    for deck in manifest["decks"]:
        result = results[deck]
        shots = os.path.join(out, "screenshots", os.path.splitext(deck)[0])
        taken = sorted(os.listdir(shots)) if os.path.isdir(shots) else []
        expected = manifest["slides"][deck]
        check(f"/slides/render/{deck}",
              not result["problems"] and result["slides"] == expected and
              taken == [f"{n:02d}.png" for n in range(1, expected + 1)],
              "\n".join(result["problems"]) +
              f"\n{result['slides']} slides shown, {len(taken)} screenshots, "
              f"{expected} slides in the deck")


BROKEN = """# A deck broken on purpose

Note: the one good slide.

---

## An overlong list

""" + "".join(f"- item {n} of a list too long for one slide\n" for n in range(30)) + """
Note: leaves the slide at the bottom.

---

## A clipped code block

```
""" + "".join(f"line {n}\n" for n in range(40)) + """```

Note: reveal's theme gives code a maximum height and a scroll bar.

---

## A missing image

![gone](svg/not-drawn.svg)

Note: no such file.
"""
BROKEN_HEAD = """<style>@font-face { font-family: Gone; src: url(fonts/gone.woff2); }
.reveal h2 { font-family: Gone; }</style>
<script>console.error("deliberate console error");</script>
</head>"""


def check_render_catches_faults(good_deck):
    """The checker is worth something only if it fails: a deck made from
    a real one, with one fault per slide, must be reported slide by slide."""
    with open(os.path.join(out, good_deck)) as f:
        page = f.read()
    head, rest = page.split("<textarea data-template>", 1)
    page = (head.replace("</head>", BROKEN_HEAD) + "<textarea data-template>\n" +
            BROKEN + "</textarea>" + rest.split("</textarea>", 1)[1])
    name = "zz-broken-on-purpose.html"
    with open(os.path.join(out, name), "w") as f:
        f.write(page)
    try:
        problems = render([name])[name]["problems"]
    finally:
        os.unlink(os.path.join(out, name))
        shutil.rmtree(os.path.join(out, "screenshots", "zz-broken-on-purpose"),
                      ignore_errors=True)
    wanted = {
        "overlong list": r"^slide 2: .*leaves the slide",
        "clipped code": r"^slide 3: .*clips its content",
        "missing image": r"^slide 4: image svg/not-drawn.svg did not load",
        "failed image request": r"^request: .*not-drawn\.svg",
        "failed font request": r"^request: .*gone\.woff2",
        "console error": r"^console: deliberate console error",
    }
    missed = [what for what, pattern in wanted.items()
              if not any(re.search(pattern, p) for p in problems)]
    good_slide = [p for p in problems if p.startswith("slide 1:")]
    check("/slides/render/catches-faults", not missed and not good_slide,
          f"not reported: {missed}; reported on the good slide: {good_slide}; "
          f"all: {problems}")


def report():
    print(f"1..{len(results)}")
    for i, (name, ok, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {name}")
        if not ok:
            for line in str(why).strip().splitlines()[-20:]:
                print(f"# {line}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
