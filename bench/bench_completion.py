"""Shell completion costs: does it slow the CLI or the shell, and how long a TAB takes.

Each round runs, interleaved so machine noise hits all alike:
  - CLI start of this tree and of a tree without completion (`--before`,
    a source tree put first on PYTHONPATH): `kioku-mesh --version` and a
    `search` on the cached store;
  - shell start without and with the script loaded (bash --norc, zsh -f,
    fish --no-config: `source SCRIPT` vs an empty command);
  - a TAB in bash: a static one (`kioku-mesh sea<TAB>`, no process) and a
    dynamic one (`kioku-mesh search -p <TAB>`, which runs
    `kioku-mesh __complete projects`), minus the cost of loading the script;
  - `kioku-mesh __complete projects` alone.

    git archive ca65d8e src | tar -x -C /tmp/km-before
    .venv/bin/python bench/bench_completion.py --before /tmp/km-before/src --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import common

from kioku_mesh.cli.completion import script
from kioku_mesh.cli.main import build_parser


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000", help="store sizes (cached corpus stores)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--before", help="src directory of a tree without completion")
    args = ap.parse_args(argv)
    work = common.temp_dir("completion")
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        if shutil.which(shell):
            scripts[shell] = work / f"kioku-mesh.{shell}"
            scripts[shell].write_text(script(shell, build_parser()))
    print(f"# completion bench, {common.load()}, runs {args.runs}")
    for size in [int(s) for s in args.sizes.split(",")]:
        state = common.cached_store(size, log=lambda m: print(m, file=sys.stderr))
        env = common.clean_env(state)
        env["PATH"] = f"{Path(common.CLI).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        before_env = {**env, "PYTHONPATH": args.before} if args.before else None
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([common.PYTHON, "-c", "pass"], env),
            "kioku-mesh --version": ([common.CLI, "--version"], env),
            "kioku-mesh search retry": ([common.CLI, "search", "retry", "-n", "5"], env),
            "kioku-mesh __complete projects": ([common.CLI, "__complete", "projects"], env),
        }
        if before_env:
            cases["before: kioku-mesh --version"] = ([common.CLI, "--version"], before_env)
            cases["before: kioku-mesh search retry"] = (
                [common.CLI, "search", "retry", "-n", "5"], before_env)
        for shell, path in scripts.items():
            flag = {"bash": "--norc", "zsh": "-f", "fish": "--no-config"}[shell]
            cases[f"{shell}: start"] = ([shell, flag, "-c", ":"], env)
            cases[f"{shell}: start + source script"] = ([shell, flag, "-c", f"source {path}"], env)
        if "bash" in scripts:
            tab = ('source {p}; COMP_WORDS=(kioku-mesh {w}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); '
                   '_kioku_mesh; echo "${{COMPREPLY[@]}}"')
            cases["bash: source + TAB `kioku-mesh sea`"] = (
                ["bash", "--norc", "-c", tab.format(p=scripts["bash"], w="sea")], env)
            cases["bash: source + TAB `kioku-mesh search -p `"] = (
                ["bash", "--norc", "-c", tab.format(p=scripts["bash"], w='search -p ""')], env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (cmd, case_env) in cases.items():
                result = common.check(common.run_timed(cmd, case_env), name)
                times[name].append((result.wall_s, result.cpu_s))
        projects = common.run_timed([common.CLI, "__complete", "projects"], env).stdout.split()
        print(f"\n## {size:,} memories ({len(projects)} project names), {common.load()}\n")
        print("| command | wall median | wall p90 | CPU median |")
        print("|---|---:|---:|---:|")
        for name, values in times.items():
            walls = sorted(w for w, _ in values)
            cpus = sorted(c for _, c in values)
            print(f"| {name} | {common.ms(walls[len(walls) // 2])} | "
                  f"{common.ms(common.percentile(walls, 90))} | {common.ms(cpus[len(cpus) // 2])} |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
