#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""build-slides.py BUILD_DIR OUT_DIR [--no-pdf]: mailwire's lecture decks.

1. reveal.js, pinned by package.json and package-lock.json, is installed
   with `npm ci` into OUT_DIR/npm (the source tree is left alone) and its
   dist/ and plugins are copied to OUT_DIR/reveal/, so a deck needs no
   network;
2. play.sh starts mailwire on loopback and captures every scene into
   OUT_DIR/captures/ (root, or tcpdump with cap_net_raw);
3. every diagram of scenarios.txt is drawn by BUILD_DIR's mw-trace --svg
   into OUT_DIR/svg/ (a name ending in .txt: mw-trace's text output, into
   OUT_DIR/text/), and manifest.json records how (capture, options,
   SHA-256), so a test can draw it again and compare;
4. each decks/NN-name.md becomes OUT_DIR/NN-name.html (reveal.js's own
   Markdown plugin renders it: "---" between slides, "Note:" starts the
   speaker notes); a line "@include text/NAME.txt" (drawn by mw-trace) or
   "@include captures/NAME.txt" (written by play.sh: a log, the queue, a
   bounce) becomes that text, as this build made it;
5. render-check.py shows every slide in headless Chromium at 1280x720,
   saves OUT_DIR/screenshots/<deck>/NN.png and fails the build on a
   console error, a file that did not load or text that leaves its slide
   (--no-render skips it);
6. headless Chromium prints each deck with reveal's ?print-pdf (over the
   same DevTools pipe, once the layout has a page per slide) and pdfunite
   joins them into OUT_DIR/mailwire-lectures.pdf.
"""
import hashlib
import html
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PDF_NAME = "mailwire-lectures.pdf"


def die(message):
    print(f"build-slides: {message}", file=sys.stderr)
    sys.exit(1)


def run(argv, timeout, **kwargs):
    """Runs argv in its own process group; on timeout the group (what this
    started) is killed."""
    process = subprocess.Popen(argv, start_new_session=True, **kwargs)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        die(f"{argv[0]} took more than {timeout} s")


PROGRAMS = ("servers/mw-smtpd", "servers/mw-pop3d", "servers/mw-imapd",
            "clients/mw-send", "clients/mw-pop3", "clients/mw-imap",
            "tools/mw-admin", "tracer/mw-trace")


def check_programs(build):
    missing = [p for p in PROGRAMS
               if not os.access(os.path.join(build, "src", p), os.X_OK)]
    if missing:
        die(f"not built yet: {', '.join(missing)} (ninja -C {build} first)")


def install_reveal(out):
    npm = os.path.join(out, "npm")
    os.makedirs(npm, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(HERE, name), npm)
    if run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline",
            "--loglevel=error"], 300, cwd=npm) != 0:
        die("npm ci failed (reveal.js comes from the npm registry)")
    reveal = os.path.join(npm, "node_modules", "reveal.js")
    target = os.path.join(out, "reveal")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(reveal, "dist"), os.path.join(target, "dist"),
                    ignore=shutil.ignore_patterns("*.map", "*.esm.js"))
    for plugin in ("markdown", "notes"):
        shutil.copytree(os.path.join(reveal, "plugin", plugin),
                        os.path.join(target, "plugin", plugin),
                        ignore=shutil.ignore_patterns("*.esm.js"))
    shutil.copy(os.path.join(reveal, "LICENSE"), target)
    with open(os.path.join(reveal, "package.json")) as f:
        return json.load(f)["version"]


def read_scenarios():
    """[(diagram, scene, [mw-trace options])] from scenarios.txt."""
    rows = []
    with open(os.path.join(HERE, "scenarios.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line)
            rows.append((words[0], words[1], words[2:]))
    return rows


def draw(build, out, scenarios):
    tracer = os.path.join(build, "src", "tracer", "mw-trace")
    svg_dir = os.path.join(out, "svg")
    os.makedirs(svg_dir, exist_ok=True)
    manifest = []
    os.makedirs(os.path.join(out, "text"), exist_ok=True)
    for diagram, scene, options in scenarios:
        capture = os.path.join("captures", scene + ".pcap")
        argv = [tracer, "-r", os.path.join(out, capture)] + options
        if diagram.endswith(".txt"):
            kind, path = "text", os.path.join("text", diagram)
        else:
            kind, path = "svg", os.path.join("svg", diagram + ".svg")
            argv[3:3] = ["--svg", os.path.join(out, path)]
        with open(os.path.join(out, path) if kind == "text" else os.devnull,
                  "w") as stdout:
            if run(argv, 60, stdout=stdout) != 0:
                die(f"mw-trace could not draw {diagram}")
        with open(os.path.join(out, path), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest.append({kind: path, "capture": capture, "options": options,
                         "sha256": digest})
    return manifest


INCLUDE = re.compile(r"^@include (\S+)[ \t]*$", re.M)


def include(out, source, texts, match):
    """The text an "@include PATH" line names, as a <pre> block: mw-trace's
    text (PATH in @texts) or a file play.sh wrote into captures/."""
    path = match.group(1)
    if path not in texts and not re.fullmatch(r"captures/[\w.-]+\.txt", path):
        die(f"{os.path.basename(source)} includes {path}: not a text of "
            "scenarios.txt nor captures/NAME.txt")
    try:
        with open(os.path.join(out, path)) as f:
            text = f.read().rstrip("\n")
    except OSError as error:
        die(f"{os.path.basename(source)} includes {path}: {error.strerror}")
    # escaped twice: the deck's <textarea> takes one level off, and the
    # Markdown must still see "&lt;" where the text has "<"
    return f'<pre class="trace"><code>{html.escape(html.escape(text))}</code></pre>'



def render_deck(source, out, template, diagrams, texts):
    with open(source) as f:
        markdown = f.read()
    markdown = INCLUDE.sub(lambda m: include(out, source, texts, m), markdown)
    title = re.search(r"^# (.*)$", markdown, re.M)
    for image in re.findall(r"\]\((svg/[^)]+)\)", markdown):
        if image not in diagrams:
            die(f"{os.path.basename(source)} shows {image}, which no line of "
                "scenarios.txt draws")
    page = (template.replace("@TITLE@", html.escape(title.group(1) if title
                                                    else "mailwire"))
            .replace("@MARKDOWN@", markdown.replace("</textarea", "&lt;/textarea")))
    name = os.path.splitext(os.path.basename(source))[0] + ".html"
    with open(os.path.join(out, name), "w") as f:
        f.write(page)
    return name, slide_count(markdown)


def slide_count(markdown):
    """Slides in a deck: reveal's separator, a line "---" between blank lines."""
    return len(re.findall(r"^\r?\n---\r?\n$", markdown, re.M)) + 1


def pdf_pages(pdf):
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True,
                          timeout=60).stdout
    match = re.search(r"^Pages:\s+(\d+)", info, re.M)
    return int(match.group(1)) if match else 0


def render(out, decks):
    """Every slide in Chromium (render-check.py): screenshots, and the
    build fails on what the tests would fail on."""
    checker = subprocess.run([sys.executable, os.path.join(HERE, "render-check.py"),
                              out] + decks, capture_output=True, text=True,
                             timeout=600)
    if checker.returncode != 0:
        try:
            results = json.loads(checker.stdout)
        except ValueError:
            die(f"render-check.py failed: {checker.stderr.strip()}")
        for deck, result in results.items():
            for problem in result["problems"]:
                print(f"build-slides: {deck}: {problem}", file=sys.stderr)
        die("a slide does not show as it should (screenshots in "
            f"{os.path.join(out, 'screenshots')})")


def load_render_check():
    """render-check.py as a module (its name is not an identifier)."""
    spec = importlib.util.spec_from_file_location(
        "render_check", os.path.join(HERE, "render-check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def print_pdf(out, decks, slides):
    """Each deck printed by headless Chromium (reveal's ?print-pdf, one page
    per slide), then joined by pdfunite."""
    if shutil.which("chromium") is None:
        die("chromium is missing (apt-get install chromium), or use --no-pdf")
    render_check = load_render_check()
    pdf_dir = os.path.join(out, "pdf")
    os.makedirs(pdf_dir, exist_ok=True)
    pages = []
    browser = render_check.Chromium(timeout=180)
    try:
        for deck in decks:
            pdf = os.path.join(pdf_dir, deck.replace(".html", ".pdf"))
            render_check.print_deck(browser, out, deck, pdf, slides[deck])
            if pdf_pages(pdf) != slides[deck]:
                die(f"chromium printed {pdf_pages(pdf)} pages of {deck}, which "
                    f"has {slides[deck]} slides")
            pages.append(pdf)
    except (OSError, RuntimeError, TimeoutError) as error:
        die(f"printing the PDF: {error}")
    finally:
        browser.close()
    if run(["pdfunite"] + pages + [os.path.join(out, PDF_NAME)], 60) != 0:
        die("pdfunite failed (apt-get install poppler-utils)")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        die("usage: build-slides.py BUILD_DIR OUT_DIR [--no-pdf] [--no-render]")
    build, out = (os.path.abspath(a) for a in args)
    check_programs(build)
    os.makedirs(out, exist_ok=True)
    version = install_reveal(out)
    scenarios = read_scenarios()
    scenes = sorted({scene for _, scene, _ in scenarios},
                    key=[s for _, s, _ in scenarios].index)
    captures = os.path.join(out, "captures")
    shutil.rmtree(captures, ignore_errors=True)
    status = run([os.path.join(HERE, "play.sh"), build, captures] + scenes, 300)
    if status != 0:
        sys.exit(status)
    for drawn in ("svg", "text"):
        shutil.rmtree(os.path.join(out, drawn), ignore_errors=True)
    manifest = draw(build, out, scenarios)
    with open(os.path.join(HERE, "template.html")) as f:
        template = f.read().replace("@REVEAL_VERSION@", version)
    shutil.copy(os.path.join(HERE, "mailwire.css"), out)
    decks_dir = os.path.join(HERE, "decks")
    diagrams = {entry["svg"] for entry in manifest if "svg" in entry}
    texts = {entry["text"] for entry in manifest if "text" in entry}
    slides = dict(render_deck(os.path.join(decks_dir, name), out, template,
                              diagrams, texts)
                  for name in sorted(os.listdir(decks_dir)) if name.endswith(".md"))
    decks = sorted(slides)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"reveal.js": version, "decks": decks, "slides": slides,
                   "diagrams": manifest,
                   "pdf": None if "--no-pdf" in sys.argv else PDF_NAME},
                  f, indent=1)
    if "--no-render" not in sys.argv:
        render(out, decks)
    if "--no-pdf" not in sys.argv:
        print_pdf(out, decks, slides)
    print(f"build-slides: {len(decks)} decks, {len(manifest)} diagrams "
          f"in {out}")


if __name__ == "__main__":
    main()
