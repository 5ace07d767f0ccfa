#!/usr/bin/python3
"""Adds the interactive text/html rendering to the plotly figures of executed notebooks.

For every output carrying plotly's JSON (application/vnd.plotly.v1+json), (re)writes its text/html
part from that JSON and the output's image/png, exactly as lib/notebook/export.ts's showFigure
does in a kernel (lib/notebook/display.ts's plotlyHtml, through scripts/figure_html.ts): the
notebook's first figure inlines the pinned plotly.js, the others use it; where scripts do not run
the fragment shows the PNG. Element ids are derived from the notebook's name and the figure's
position, so running this again changes nothing. Notebooks are rewritten with nbformat only when
they change; no cell is executed.

Usage: /usr/bin/python3 scripts/add_figure_html.py [--check] [notebooks or folders; default notebooks/]
Exit status: 0 done (or, with --check, nothing to change), 1 with --check when a notebook would
change, 2 for bad arguments or a failing helper.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

try:
    import nbformat
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"add_figure_html: {e}; run with /usr/bin/python3 after scripts/setup.sh")

REPO = Path(__file__).resolve().parent.parent
PLOTLY_MIME = "application/vnd.plotly.v1+json"
DENO = REPO / "node_modules" / "deno" / "deno"


def figure_outputs(nb):
    """The outputs of `nb` that carry a plotly figure, in document order."""
    return [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("display_data", "execute_result")
        and PLOTLY_MIME in out.get("data", {})
    ]


def render(requests: list[dict]) -> list[str]:
    """The text/html of each request, from scripts/figure_html.ts."""
    r = subprocess.run(
        [str(DENO), "run", "--allow-read", str(REPO / "scripts" / "figure_html.ts")],
        input=json.dumps(requests).encode(),
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode())
        sys.exit(2)
    return json.loads(r.stdout)


def process(path: Path, check: bool) -> bool:
    """Updates one notebook; returns True when it changed (or would, with check)."""
    nb = nbformat.read(path, as_version=4)
    outs = figure_outputs(nb)
    if not outs:
        return False
    requests = [
        {
            "figure": out["data"][PLOTLY_MIME],
            "png": out["data"].get("image/png"),
            "id": f"grefel-plotly-{path.stem}-{k}",
            "plotly": k == 0,
        }
        for k, out in enumerate(outs)
    ]
    changed = False
    for out, html in zip(outs, render(requests)):
        if out["data"].get("text/html") != html:
            out["data"]["text/html"] = html
            changed = True
    if changed and not check:
        nbformat.write(nb, path)
    print(f"add_figure_html: {path}: {len(outs)} figure(s), {'changed' if changed else 'unchanged'}")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(REPO / "notebooks")])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args()
    notebooks: list[Path] = []
    for p in map(Path, args.paths):
        if p.is_dir():
            notebooks += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb" and p.is_file():
            notebooks.append(p)
        else:
            parser.error(f"not a notebook or folder: {p}")
    changed = [p for p in notebooks if process(p, args.check)]
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
