#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-slides.py (suite "slides", TAP): builds the decks from a clean
state into MW_BUILD_ROOT/slides-test/ with slides/build-slides.py, then:
  /slides/build/clean            the build works from an empty directory
  /slides/offline/<deck>         every src/href of the deck, and every url()
                                 of the CSS it loads, is a file inside the
                                 output (no network, no file outside)
  /slides/svg/from-this-build    every SVG a deck shows is in manifest.json,
                                 and this build's mw-trace, run again on the
                                 capture made by this build with the recorded
                                 options, writes the same bytes; none is in
                                 the source tree
  /slides/notes/<deck>           every slide has speaker notes, the last
                                 slide asks two or three questions
  /slides/pdf/pages              the PDF has one page per slide
Capturing needs root: as another user the whole file skips, saying why."""
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
    drawn = {d["svg"]: d for d in manifest["diagrams"]}
    shown = set()
    for deck in manifest["decks"]:
        with open(os.path.join(out, deck)) as f:
            page = f.read()
        check_offline(deck, page)
        check_notes(deck, page)
        shown |= set(re.findall(r"\]\((svg/[^)]+)\)", page))
    check_svgs(shown, drawn)
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


def check_svgs(shown, drawn):
    tracer = os.path.join(build, "src", "tracer", "mw-trace")
    bad = [s for s in shown if s not in drawn]
    for svg in sorted(shown & set(drawn)):
        entry = drawn[svg]
        with tempfile.NamedTemporaryFile(suffix=".svg") as again:
            subprocess.run([tracer, "-r", os.path.join(out, entry["capture"]),
                            "--svg", again.name] + entry["options"],
                           stdout=subprocess.DEVNULL, check=True, timeout=60)
            with open(os.path.join(out, svg), "rb") as a, \
                    open(again.name, "rb") as b:
                if a.read() != b.read():
                    bad.append(svg + " (differs from mw-trace's)")
    checked_in = [os.path.join(d, f) for d, _, fs in
                  os.walk(os.path.join(source, "slides")) for f in fs
                  if f.endswith(".svg") and "node_modules" not in d]
    check("/slides/svg/from-this-build", shown and not bad and not checked_in,
          f"{bad} {checked_in}")


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
