"""`python -m bench [NAME ...]`: run the benchmarks against real servers on loopback.

With no NAME, every benchmark runs and docs/benchmarks.md is written. With names, only those run and
the results are printed (use --out to write a report anyway). --tiny runs each on a tiny size.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from . import report
from .common import Result, Server
from .sizes import Sizes

NAMES = ("start", "delay", "fidelity", "classroom", "concurrent", "memory", "hostile", "cstart", "burst", "hall",
         "storage", "cluster")


def wait_quiet(max_wait: float, threshold: float = 0.2) -> float:
    """Wait (at most max_wait s) until other programs use less than `threshold` of the CPUs; returns the
    last measured share, which the report shows."""
    deadline = time.monotonic() + max_wait
    busy = report.cpu_busy(1.0)
    while busy > threshold and time.monotonic() < deadline:
        busy = report.cpu_busy(1.0)
    return busy


def run_one(name: str, sizes: Sizes, max_wait: float = 0.0) -> Result:
    mod = importlib.import_module(f"bench.{name}")
    background = wait_quiet(max_wait)
    others = report.OthersCpu()
    t = time.monotonic()
    try:
        res: Result = mod.run(sizes)
    except Exception as e:  # one broken benchmark must not hide the others' numbers
        traceback.print_exc()
        res = Result(name, name, error=f"{type(e).__name__}: {e}")
    res.seconds = time.monotonic() - t
    res.raw["_background_cpu"] = background
    res.raw["_others"] = others.stop()
    return res


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("names", nargs="*", metavar="NAME", help=", ".join(NAMES))
    p.add_argument("--tiny", action="store_true", help="tiny sizes: proves the code works, numbers mean little")
    p.add_argument("--out", type=Path, help="write the Markdown report here (default with no NAME: "
                                            "docs/benchmarks.md)")
    p.add_argument("--json", type=Path, help="also write every result, with raw data, as JSON")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="measure nothing: write the report again from a --json file of an earlier run (e.g. "
                        "after editing bench/FINDINGS.md)")
    p.add_argument("--quiet-wait", type=float, default=20.0, metavar="S",
                   help="before each benchmark, wait up to S seconds for other programs to use under 20%% of "
                        "the CPUs (default 20; the load found is reported)")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if args.render:
        saved = json.loads(args.render.read_text())
        results = [Result.from_dict(r) for r in saved["results"]]
        out = args.out or report.ROOT / "docs" / "benchmarks.md"
        report.write(report.render(results, saved["machine"], saved["health"], saved["argv"], saved["total_s"],
                                   saved["when"]), out)
        print(f"wrote {out} from the run of {saved['when']}")
        return 0
    names = args.names or list(NAMES)
    sizes = Sizes.tiny() if args.tiny else Sizes()
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    t0 = time.monotonic()
    results = []
    for name in names:
        print(f"== {name}", flush=True)
        res = run_one(name, sizes, args.quiet_wait)
        results.append(res)
        if res.error:
            print(f"   not measured: {res.error}", flush=True)
        for f in res.figures:
            mark = "" if f.met is None else ("  [target met]" if f.met else f"  [TARGET MISSED: {f.target}]")
            alt = f"   (vs {f.alternative})" if f.alternative else ""
            print(f"   {f.name}: {f.fmt()}{alt}{mark}", flush=True)
        o = res.raw["_others"]
        print(f"   ({res.seconds:.0f} s; other programs used {o['others_cores']:.2f} cores meanwhile)", flush=True)
    total = time.monotonic() - t0
    machine = report.machine()
    if args.json:
        args.json.write_text(json.dumps({"when": when, "argv": argv, "total_s": total, "machine": machine,
                                         "health": Server.last_health, "results": [r.to_dict() for r in results]},
                                        indent=1, default=str))
    out = args.out or (None if args.names else report.ROOT / "docs" / "benchmarks.md")
    if out is not None:
        text = report.render(results, machine, Server.last_health, argv, total, when)
        report.write(text, out)
        print(f"wrote {out}")
    print(f"total {total:.0f} s")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
