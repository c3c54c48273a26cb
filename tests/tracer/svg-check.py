#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""svg-check.py MW_TRACE CAPTURE_DIR: the structure of mw-trace --svg.

For each case below, runs mw-trace --svg - and checks that the SVG is
well-formed XML (xml.etree), that the slide layout's viewBox fits 16:9
(1280 wide or more, at most 9/16 of that high) with no text under 11 px, and that nothing leaves the viewBox: every text
(its width estimated from DejaVu Sans Mono's advance, 0.6 em, and its
anchor), line, rect, circle and polyline point. Then every SVG golden
(tests/tracer/*.svg*.out) is checked the same way, but for the size. TAP
output, one test per case or golden; exits 1 if one fails.
"""
import glob
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = '{http://www.w3.org/2000/svg}'
MONO = 0.6

# name, capture, options, slide (the 1280x720 layout is expected)
CASES = [
    ('story', 'journey.pcap', [], True),
    ('story-print', 'journey.pcap', ['--svg-print'], True),
    ('story-keylog', 'journey-tls.pcap', ['--keylog=journey-tls.keylog'], True),
    ('story-sessions', 'journey.pcap', ['--session', '3,0,4', '--svg-size', 'slide'], True),
    ('tls-many', 'tls-smtp.pcap', ['--keylog=tls-smtp.server.keylog'], True),
    ('lint', 'tls-lint.pcap', ['--keylog=tls-lint.server.keylog'], True),
    ('condstore', 'mailwire-condstore.pcap', [], True),
    ('imap-idle', 'mailwire-imap.pcap', ['--svg-from', 'IDLE'], True),
    ('full', 'mailwire-condstore.pcap', ['--session', '3,2', '--svg-compact'], False),
    ('full-smtp', 'mailwire-smtp.pcap', ['--svg-size', 'full'], False),
    # ESC, DEL and octets that are not UTF-8 on the wire: still XML
    ('hostile', 'smtp-hostile.pcap', [], True),
]


def style_sizes(root):
    """class name -> font size in px, from the <style> element."""
    sizes = {}
    for style in root.iter(NS + 'style'):
        for name, body in re.findall(r'\.(\w+)\{([^}]*)\}', style.text or ''):
            m = re.search(r'font-size:(\d+(?:\.\d+)?)px', body)
            if m:
                sizes[name] = float(m.group(1))
    return sizes


def text_box(el, sizes):
    size = el.get('font-size')
    size = float(size[:-2]) if size else sizes.get(el.get('class'), 16)
    text = ''.join(el.itertext())
    width = len(text) * size * MONO
    x = float(el.get('x'))
    anchor = el.get('text-anchor', 'start')
    left = x - width / 2 if anchor == 'middle' else x - width if anchor == 'end' else x
    y = float(el.get('y'))
    return size, left, left + width, y - size * 0.8, y + size * 0.2, text


def problems(svg, slide):
    root = ET.fromstring(svg)
    out = []
    box = [float(v) for v in root.get('viewBox').split()]
    width, height = box[2], box[3]
    if slide and (width < 1280 or height > width * 9 / 16 + 1):
        out.append(f'viewBox {width}x{height} does not fit a 16:9 slide')
    sizes = style_sizes(root)

    def inside(what, x1, x2, y1, y2):
        if x1 < -1 or y1 < -1 or x2 > width + 1 or y2 > height + 1:
            out.append(f'{what} leaves the {width:.0f}x{height:.0f} viewBox '
                       f'(x {x1:.0f}..{x2:.0f}, y {y1:.0f}..{y2:.0f})')

    for el in root.iter():
        tag = el.tag[len(NS):] if el.tag.startswith(NS) else el.tag
        if tag == 'text':
            size, x1, x2, y1, y2, text = text_box(el, sizes)
            if slide and size < 11 and text.strip() != '!':
                out.append(f'text {text!r} is {size} px, under 11')
            inside(f'text {text!r}', x1, x2, y1, y2)
        elif tag == 'line':
            xs = [float(el.get('x1')), float(el.get('x2'))]
            ys = [float(el.get('y1')), float(el.get('y2'))]
            inside('a line', min(xs), max(xs), min(ys), max(ys))
        elif tag == 'rect' and el.get('x') is not None:
            x, y = float(el.get('x')), float(el.get('y'))
            inside('a rect', x, x + float(el.get('width')), y,
                   y + float(el.get('height')))
        elif tag == 'circle':
            cx, cy, r = (float(el.get(k)) for k in ('cx', 'cy', 'r'))
            inside('a circle', cx - r, cx + r, cy - r, cy + r)
        elif tag == 'polyline':
            for point in el.get('points').split():
                px, py = (float(v) for v in point.split(','))
                inside('a thread point', px, px, py, py)
    return out


def check_goldens(captures, first):
    """Every SVG golden (*.svg*.out): well-formed, inside its viewBox."""
    failed = 0
    goldens = sorted(glob.glob(os.path.join(captures, '*.svg*.out')))
    for number, path in enumerate(goldens, first):
        with open(path, encoding='utf-8') as f:
            svg = f.read()
        try:
            found = problems(svg, False)
        except ET.ParseError as error:
            found = [f'not well-formed XML: {error}']
        name = os.path.basename(path)
        print(f'{"not ok" if found else "ok"} {number} - golden {name}')
        for problem in found[:10]:
            print(f'# {problem}')
        failed += 1 if found else 0
    return failed


def main():
    tracer, captures = sys.argv[1], sys.argv[2]
    failed = 0
    goldens = glob.glob(os.path.join(captures, '*.svg*.out'))
    print(f'1..{len(CASES) + len(goldens)}')
    for number, (name, capture, options, slide) in enumerate(CASES, 1):
        args = [tracer, '--color=never', '-r', f'{captures}/{capture}',
                '--svg', '-']
        args += [o.replace('--keylog=', f'--keylog={captures}/') for o in options]
        run = subprocess.run(args, capture_output=True, timeout=60)
        found = []
        if run.returncode != 0:
            found.append(f'exit {run.returncode}: {run.stderr.decode()[:200]}')
        else:
            try:
                found = problems(run.stdout.decode(), slide)
            except ET.ParseError as error:
                found = [f'not well-formed XML: {error}']
            except UnicodeDecodeError as error:
                found = [f'not UTF-8: {error}']
        if found:
            failed += 1
            print(f'not ok {number} - {name}')
            for problem in found[:10]:
                print(f'# {problem}')
        else:
            print(f'ok {number} - {name}')
    failed += check_goldens(captures, len(CASES) + 1)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
