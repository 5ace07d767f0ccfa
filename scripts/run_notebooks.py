#!/usr/bin/python3
"""Headless runner for grefel's Deno-kernel notebooks.

Executes .ipynb files top to bottom with the Deno Jupyter kernel (Debian's python3-nbclient and
jupyter-client; `deno jupyter --install` registers the kernel) and writes the executed notebooks in
place or into --output-dir.

Why not `jupyter nbconvert --execute`: the Deno kernel (2.x) publishes its `status: idle` message
*before* the last stdout/stderr, display_data and even execute_result messages of a cell reach
IOPub. Stock nbclient stops reading a cell at idle, sends the next cell at once, and the late
messages are then either dropped or (as Deno stamps them with the parent header current when they
are flushed) attributed to the next cell. This runner keeps reading a cell's IOPub messages after
idle until none has arrived for a quiet period (--quiet, default 0.5 s) before sending the next
cell, and routes any message that still arrives late with an earlier cell's parent header to that
cell rather than dropping it.

Exit status: 0 when every notebook ran, 1 when a cell failed or timed out (the notebook path, cell
index, error name, message and traceback are printed), 2 for bad arguments or a missing kernel.

The kernel process gets GREFEL_PROFILE=<profile> (smoke|short|quick|full) in its environment and runs in
the notebook's own directory, as JupyterLab does.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import re
import sys
import time
from pathlib import Path
from queue import Empty

try:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import ensure_async
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"run_notebooks: {e}. Install Jupyter with scripts/setup.sh "
        "(Debian packages jupyter-nbconvert and python3-nbclient), and run this with "
        "/usr/bin/python3 (Debian's Python), not a pyenv/venv Python.\n"
    )
    sys.exit(2)

PROFILES = ("smoke", "short", "quick", "full")
# Default per-cell timeouts (seconds) for each profile; `full` has none (it is meant for a GPU box).
# `quick` only reads finished converged runs unless GREFEL_NB_TRAIN=missing, so its cells are short.
DEFAULT_TIMEOUTS = {"smoke": 600, "short": 4 * 3600, "quick": 4 * 3600, "full": None}
# GREFEL_* variables holding paths are made absolute before the kernel starts in the notebook's
# folder: these always, any other GREFEL_* whose value names an existing relative path too.
PATH_VARS = ("GREFEL_RESULTS",)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Removes terminal colour codes (Deno colours its tracebacks)."""
    return ANSI.sub("", text)


class QuietPeriodClient(NotebookClient):
    """NotebookClient that keeps reading a cell's IOPub messages after idle until they stop."""

    def __init__(self, nb, quiet: float, **kw):
        super().__init__(nb, **kw)
        self.quiet = quiet
        # msg_id of each executed request -> (cell, cell_index), for late messages of earlier cells.
        self._cells_by_msg_id: dict[str, tuple] = {}
        # Largest delay seen between a cell's idle message and its last output (for measurements).
        self.max_late_s = 0.0
        self.late_messages = 0
        self.rerouted_messages = 0

    def _route_stray(self, msg) -> None:
        parent = msg["parent_header"].get("msg_id")
        if parent in self._cells_by_msg_id and msg["msg_type"] != "status":
            cell, index = self._cells_by_msg_id[parent]
            try:
                self.process_message(msg, cell, index)
                self.rerouted_messages += 1
            except CellExecutionComplete:
                pass

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index) -> None:
        assert self.kc is not None
        self._cells_by_msg_id[parent_msg_id] = (cell, cell_index)
        idle_at = None
        while True:
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=None if idle_at is None else self.quiet)
                )
            except Empty:
                return  # quiet period passed after idle: the cell's outputs are complete
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                self._route_stray(msg)
                continue
            try:
                self.process_message(msg, cell, cell_index)
                if idle_at is not None and msg["msg_type"] != "status":
                    self.late_messages += 1
                    self.max_late_s = max(self.max_late_s, time.monotonic() - idle_at)
            except CellExecutionComplete:
                idle_at = time.monotonic()


def find_notebooks(paths: list[str]) -> list[Path]:
    """Expands directories to the .ipynb files in them (sorted), skipping checkpoints."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += sorted(
                q for q in path.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts
            )
        elif path.suffix == ".ipynb" and path.is_file():
            out.append(path)
        else:
            raise SystemExit(f"run_notebooks: not a notebook or directory: {p}")
    return out


def error_report(nb, exc: BaseException) -> str:
    """Names the failing cell (index among all cells) and its error, with the traceback."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = strip_ansi("\n".join(out.get("traceback", [])))
                source = "\n".join(cell.source.splitlines()[:8])
                return (
                    f"cell {index} failed: {out.get('ename')}: {strip_ansi(out.get('evalue', ''))}"
                    f"\n--- cell {index} source (first lines) ---\n{source}\n--- traceback ---\n{tb}"
                )
    return strip_ansi(str(exc))


def run_one(path: Path, args, kernel_default: str) -> bool:
    """Executes one notebook; returns True when every cell ran."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # invalid JSON or nbformat schema
        print(f"FAILED {path}: cannot read the notebook: {e}", file=sys.stderr, flush=True)
        return False
    kernel = args.kernel or nb.metadata.get("kernelspec", {}).get("name") or kernel_default
    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUTS[args.profile]
    client = QuietPeriodClient(
        nb,
        quiet=args.quiet,
        kernel_name=kernel,
        timeout=timeout if timeout and timeout > 0 else None,
        iopub_timeout=args.iopub_timeout,
        raise_on_iopub_timeout=True,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    started = time.monotonic()
    last = [started]

    def on_cell_executed(cell, cell_index, execute_reply):
        now = time.monotonic()
        if args.verbose:
            first = (cell.source.strip().splitlines() or [""])[0][:70]
            print(f"  cell {cell_index:3d} {now - last[0]:7.1f}s  {first}", flush=True)
        last[0] = now

    def on_cell_start(cell, cell_index):
        last[0] = time.monotonic()

    client.on_cell_start = on_cell_start
    client.on_cell_executed = on_cell_executed
    ok = True
    print(f"run_notebooks: {path} (profile {args.profile}, kernel {kernel})", flush=True)
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        ok = False
        print(f"FAILED {path}: {error_report(nb, e)}", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    nb.metadata.setdefault("grefel", {})
    nb.metadata["grefel"].update(
        {
            "profile": args.profile,
            "executed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(elapsed, 1),
            "ok": ok,
        }
    )
    if args.output_dir:
        target = Path(args.output_dir) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
    elif ok:
        target = path
    else:
        target = None  # never overwrite a committed notebook with a failed run
    if target is not None:
        nbformat.write(nb, target)
    print(
        f"run_notebooks: {'ok' if ok else 'FAILED'} {path} in {elapsed:.1f}s"
        f" (late outputs after idle: {client.late_messages}, max {client.max_late_s * 1000:.0f} ms;"
        f" rerouted: {client.rerouted_messages})"
        + (f" -> {target}" if target else " (not written)"),
        flush=True,
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["notebooks"], help="notebooks or directories")
    parser.add_argument(
        "--profile",
        default=os.environ.get("GREFEL_PROFILE", "smoke"),
        help="smoke | short | quick | full; passed to the kernel as GREFEL_PROFILE (default: $GREFEL_PROFILE or smoke)",
    )
    parser.add_argument("--output-dir", help="write executed notebooks here instead of in place")
    parser.add_argument(
        "--timeout", type=float, help="per-cell timeout in seconds, 0 for none (default by profile)"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=float(os.environ.get("GREFEL_NB_QUIET", "0.5")),
        help="seconds without IOPub messages after idle before a cell counts as done (default 0.5)",
    )
    parser.add_argument(
        "--iopub-timeout",
        type=int,
        default=120,
        help="seconds to wait for a cell's outputs to stop after its reply (default 120)",
    )
    parser.add_argument("--kernel", help="kernel name (default: the notebook's kernelspec, or deno)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failing notebook")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each cell's time")
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        parser.error(f"--profile must be one of {', '.join(PROFILES)}, got {args.profile!r}")
    if args.quiet <= 0:
        parser.error("--quiet must be positive")
    kernel_default = "deno"
    try:
        spec = KernelSpecManager().get_kernel_spec(args.kernel or kernel_default)
        # The kernelspec is per user, not per clone: `deno jupyter --install` in another clone (or a
        # deleted one) leaves it pointing at a deno that is gone. Say so instead of a Popen trace.
        exe = spec.argv[0] if spec.argv else ""
        if os.path.isabs(exe) and not os.path.exists(exe):
            print(
                f"run_notebooks: the {args.kernel or kernel_default!r} kernel runs {exe}, which does "
                "not exist (installed from another clone?); run `node_modules/deno/deno jupyter "
                "--install --force` here",
                file=sys.stderr,
            )
            return 2
    except NoSuchKernel:
        print(
            f"run_notebooks: no Jupyter kernel named {args.kernel or kernel_default!r}; "
            "run `deno jupyter --install` (scripts/setup.sh does)",
            file=sys.stderr,
        )
        return 2
    notebooks = find_notebooks(args.paths)
    if not notebooks:
        print(f"run_notebooks: no notebooks in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    os.environ["GREFEL_PROFILE"] = args.profile  # inherited by the kernel process
    # The kernel runs in the notebook's folder: make path variables absolute from here first.
    for var, value in list(os.environ.items()):
        if var.startswith("GREFEL_") and value and not os.path.isabs(value):
            if var in PATH_VARS or os.path.exists(value):
                os.environ[var] = os.path.abspath(value)
    os.environ.setdefault("NO_COLOR", "1")
    failed = []
    for path in notebooks:
        if not run_one(path, args, kernel_default):
            failed.append(path)
            if args.fail_fast:
                break
    print(f"run_notebooks: {len(notebooks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("run_notebooks: needs Python 3.8+")
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except asyncio.CancelledError:
        sys.exit(1)
