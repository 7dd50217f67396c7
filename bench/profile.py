"""Summaries of py-spy "raw" (collapsed) stack files: where the samples are."""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import ROOT

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    local = ROOT / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, *, rate: int = 100, subprocesses: bool = False) -> subprocess.Popen | None:
    exe = py_spy()
    if exe is None:
        return None
    argv = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate), "-f", "raw", "-o", str(out), "--nonblocking"]
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def _package(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    path = m.group("file") if m else frame
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/work/main/" in path:
        return "healthpass:" + path.split("/work/main/", 1)[1].split("/", 1)[0]
    if "python3" in path:
        return "stdlib:" + path.rsplit("/", 1)[-1].removesuffix(".py")
    return path


def summarize(path: Path, *, top: int = 15, inclusive: tuple[str, ...] = ()) -> dict:
    """Self time by leaf frame and by package; inclusive share of frames matching each pattern."""
    leaves, packages, incl = Counter(), Counter(), Counter()
    total = idle = 0
    if not path.exists():
        return {"samples": 0}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        leaf = frames[-1]
        leaves[_short(leaf)] += n
        packages[_package(leaf)] += n
        if any(w in leaf for w in ("select (selectors", "poll (selectors", "wait (threading", "_worker (concurrent", "epoll", "sleep (")):
            idle += n
        for pattern in inclusive:
            if any(pattern in f for f in frames):
                incl[pattern] += n
    pct = lambda n: round(100.0 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "idle_pct": pct(idle),
        "top_self": [(f, pct(n)) for f, n in leaves.most_common(top)],
        "by_package": [(p, pct(n)) for p, n in packages.most_common(top)],
        "inclusive": {p: pct(incl[p]) for p in inclusive},
    }
