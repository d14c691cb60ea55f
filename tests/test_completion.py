"""Shell completion: generated from the parser (nothing drifts), and run for
real in bash, zsh and fish (each test skips, saying why, when its shell is
not installed)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, save

from kioku_mesh.cli.completion import SHELLS, script
from kioku_mesh.cli.main import build_parser

PROGRAM = Path(sys.executable).parent / "kioku-mesh"


def needs(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell} to run this test)")
    return path


def every_name(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, subcommand or option) for every one the parser has."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if not name.startswith("_"):
                    yield path, name
                    yield from every_name(sub, (*path, name))
        else:
            for flag in action.option_strings:
                yield path, flag


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_of_the_parser_is_in_the_script(shell):
    parser = build_parser()
    text = script(shell, parser)
    names = list(every_name(parser))
    assert len(names) > 150  # the walk really reached the nested commands
    missing = [(p, n) for p, n in names
               if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert missing == []
    # Nested commands are keyed by their whole path, e.g. `mcp install`.
    assert "'mcp install'" in text and "'project rename|0'" in text


def test_cli_prints_and_installs_scripts(km):
    for shell in SHELLS:
        res = km.run("completion", shell, input="", check=True)
        assert res.stdout == script(shell, build_parser())
    done = km.run("completion", "bash", "--install", input="", check=True)
    path = km.home / ".local/share/bash-completion/completions/kioku-mesh"
    assert f"wrote {path}" in done.stdout and path.read_text() == script("bash", build_parser())
    km.run("completion", "fish", "--install", input="", check=True)
    assert (km.home / ".config/fish/completions/kioku-mesh.fish").is_file()
    zsh = km.run("completion", "zsh", "--install", input="", check=True)
    assert (km.home / ".zfunc/_kioku-mesh").read_text().startswith("#compdef kioku-mesh")
    assert "fpath=" in zsh.stdout
    assert_one_line_error(km.run("completion", "tcsh", input=""), 2, contains="invalid choice")


@pytest.fixture
def projects_km(km):
    """A store with two projects, plus a user-scoped project of alice's."""
    save(km, "money is integer cents", "Cents", "-p", "payments")
    save(km, "retry with jitter", "Jitter", "-p", "billing-api")
    save(km, "private note", "Private", "-p", "alice-secret", "--visibility", "user",
         extra_env={"KIOKU_MESH_USER_ID": "alice"})
    return km


def test_dynamic_project_names_come_from_the_store_and_respect_scopes(projects_km, make_km):
    km = projects_km
    res = km.run("__complete", "projects", input="", extra_env={"KIOKU_MESH_USER_ID": "bob"})
    assert (res.returncode, res.stdout, res.stderr) == (0, "billing-api\npayments\n", "")
    alice = km.run("__complete", "projects", input="", extra_env={"KIOKU_MESH_USER_ID": "alice"})
    assert alice.stdout.split() == ["alice-secret", "billing-api", "payments"]
    km.run("project", "rename", "payments", "billing", input="", check=True)
    assert "billing" in km.run("__complete", "projects", input="").stdout.split()
    # No store yet: nothing, silently, and nothing created.
    fresh = make_km()
    empty = fresh.run("__complete", "projects", input="")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "")
    assert not fresh.state_dir.exists()
    assert fresh.run("__complete", "nonsense", input="").returncode == 0


def _bash(km, text: str, *words: str) -> list[str]:
    bash = needs("bash")
    if not PROGRAM.exists():
        pytest.skip(f"{PROGRAM} is not installed (make .venv/.dev)")
    probe = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
             '_kioku_mesh; printf "%s\\n" "${COMPREPLY[@]}"')
    path = km.home / "completion.bash"
    path.write_text(text)
    res = subprocess.run([bash, "--norc", "-c", probe, "_", str(path), str(PROGRAM), *words],
                         capture_output=True, text=True, env=km.env, cwd=km.home, timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    return [w for w in res.stdout.split("\n") if w]


def test_bash_completes_commands_options_values_and_projects(projects_km):
    km, text = projects_km, script("bash", build_parser())
    assert _bash(km, text, "se") == ["search", "setup"]
    assert _bash(km, text, "") [:3] == ["init", "save", "search"]
    assert _bash(km, text, "mcp", "") == ["install", "uninstall"]
    assert _bash(km, text, "mcp", "install", "--cl") == ["--client"]
    assert _bash(km, text, "mcp", "install", "--client", "c") == ["claude-code", "codex",
                                                                 "claude-desktop", "cursor"]
    assert _bash(km, text, "save", "--memory-type", "") == ["note", "decision", "bug", "pattern",
                                                             "config", "summary"]
    assert _bash(km, text, "search", "--scope", "") == ["mesh", "user", "team", "legacy"]
    assert _bash(km, text, "search", "-p", "") == ["billing-api", "payments"]
    assert _bash(km, text, "recall", "--project", "pa") == ["payments"]
    assert _bash(km, text, "project", "rename", "b") == ["billing-api"]
    # A value option's value is not taken for a subcommand or positional.
    assert _bash(km, text, "search", "-n", "5", "--json", "--expl") == ["--explain"]
    assert _bash(km, text, "import", "--from", "") == ["jsonl", "claude-md", "agents-md",
                                                       "gemini-md", "cursor", "mcp-memory",
                                                       "mcp-memory-service", "basic-memory"]
    (km.home / "notes.jsonl").write_text("")
    assert _bash(km, text, "import", "--from", "jsonl", "not") == ["notes.jsonl"]
    assert _bash(km, text, "save", "free text here", "-s", "x", "--t") == ["--tags", "--type",
                                                                           "--ttl"]


def test_bash_registers_the_function(km):
    bash = needs("bash")
    path = km.home / "completion.bash"
    path.write_text(script("bash", build_parser()))
    res = subprocess.run([bash, "--norc", "-c", f'source "{path}"; complete -p kioku-mesh'],
                         capture_output=True, text=True, timeout=30)
    assert res.stdout.strip() == "complete -F _kioku_mesh kioku-mesh"


def _zsh(km, body: str) -> str:
    zsh = needs("zsh")
    path = km.home / "_kioku-mesh"
    path.write_text(script("zsh", build_parser()))
    env = {**km.env, "PATH": f"{PROGRAM.parent}:/usr/bin:/bin"}
    res = subprocess.run([zsh, "-f", "-c", body.replace("SCRIPT", str(path))],
                         capture_output=True, text=True, env=env, cwd=km.home, timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    return res.stdout


def test_zsh_completion_function(projects_km):
    # compadd and _files exist only inside a completion widget: stand-ins
    # print what the real ones would offer (compadd keeps what matches $PREFIX).
    out = _zsh(projects_km, r'''
        compdef() { print "compdef $*" }
        source SCRIPT
        compadd() {  # -l -d SHOWN -a WORDS: the words, then how each is shown
            local -a aopt dopt lopt; zparseopts -D -E a:=aopt d:=dopt l=lopt
            local -a all=("${(@P)aopt[2]}") display=("${(@P)aopt[2]}")
            (( $#dopt )) && display=("${(@P)dopt[2]}")
            local i; for i in {1..$#all}; do
                [[ $all[i] == ${PREFIX}* ]] && print -- "$display[i]"; done
        }
        _files() { print "(files)" }
        for line in "sa" "mcp inst" "search --memory-type d" "search -p " "import --from cursor ./"; do
            words=(kioku-mesh ${=line}); [[ $line == *" " ]] && words+=("")
            CURRENT=${#words}; PREFIX=${words[CURRENT]}
            print "== $line"; _kioku_mesh
        done''')
    assert out.split("== ")[1:] == [
        "sa\nsave  -- save a memory\n",
        "mcp inst\ninstall  -- add kioku-mesh-mcp to a client's config\n",
        "search --memory-type d\ndecision\n",
        "search -p \nbilling-api\npayments\n", "import --from cursor ./\n(files)\n"]
    assert out.startswith("compdef _kioku_mesh kioku-mesh\n")


def test_zsh_loads_it_from_fpath_with_compinit(km):
    out = _zsh(km, r'''
        s=SCRIPT; fpath=(${s:h} $fpath)
        autoload -Uz compinit && compinit -u -D
        print "autoload: $_comps[kioku-mesh]"
        source SCRIPT
        print "sourced: $_comps[kioku-mesh]"''')
    assert out == "autoload: _kioku-mesh\nsourced: _kioku_mesh\n"


def test_zsh_completes_for_real_in_a_terminal(projects_km):
    """An interactive zsh on a pseudo-terminal, the script autoloaded from
    $fpath as `--install` sets it up, and TAB pressed (zsh's zpty module)."""
    out = _zsh(projects_km, r'''
        zmodload zsh/zpty
        s=SCRIPT
        seen() {  # poll the terminal's output (up to 20 s) until it shows $1
            local chunk i
            for i in {1..200}; do
                zpty -r -t z chunk && acc+=$chunk
                [[ $acc == *$1* ]] && { acc=; return 0 }
                sleep 0.1
            done
            return 1
        }
        zpty z "zsh -f -i"
        zpty -w z "PS1='> '; fpath=(${s:h} \$fpath); autoload -Uz compinit; compinit -u -D"
        zpty -w -n z $'kioku-mesh sea\t'
        seen 'kioku-mesh search' && print "command: ok"
        zpty -w -n z $'\x15kioku-mesh search -p pay\t'
        seen 'ments' && print "project: ok"  # zsh writes only what it adds
        zpty -w -n z $'\x15kioku-mesh save x --memory-type deci\t'
        seen 'sion' && print "type: ok"
        zpty -d z''')
    assert out == "command: ok\nproject: ok\ntype: ok\n"


def test_fish_completes_for_real(projects_km):
    fish = needs("fish")
    km = projects_km
    path = km.home / "kioku-mesh.fish"
    path.write_text(script("fish", build_parser()))
    lines = ["kioku-mesh sa", "kioku-mesh mcp install --client cl", "kioku-mesh search -p ",
             "kioku-mesh save --type b", "kioku-mesh tls ", "kioku-mesh search --sc"]
    body = f"source {path}; " + "; ".join(f'echo "== {c}"; complete -C"{c}"' for c in lines)
    res = subprocess.run([fish, "--no-config", "-c", body], capture_output=True, text=True,
                         env={**km.env, "PATH": f"{PROGRAM.parent}:/usr/bin:/bin"}, cwd=km.home,
                         timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    blocks = {b.split("\n", 1)[0]: b.split("\n")[1:-1] for b in res.stdout.split("== ")[1:]}
    # Commands and options come with their help text, after a tab.
    assert blocks["kioku-mesh sa"] == ["save\tsave a memory"]
    assert blocks["kioku-mesh search --sc"] == ["--scope\tonly these tiers: mesh, user, team, legacy"]
    got = {line: [c.split("\t")[0] for c in cands] for line, cands in blocks.items()}
    assert got["kioku-mesh sa"] == ["save"]
    assert got["kioku-mesh mcp install --client cl"] == ["claude-code", "claude-desktop"]
    assert got["kioku-mesh search -p "] == ["billing-api", "payments"]
    assert got["kioku-mesh save --type b"] == ["bug"]
    assert got["kioku-mesh tls "] == sorted(["init-ca", "request", "sign", "install", "info",
                                             "enroll"])
    assert got["kioku-mesh search --sc"] == ["--scope"]


def test_normal_commands_do_not_load_completion(km):
    save(km, "x", "y")
    probe = ("import sys\nfrom kioku_mesh.cli.main import main\nmain(['search', 'x', '--json'])\n"
             "print(sorted(m for m in sys.modules if 'complet' in m))")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=km.env, cwd=km.home, timeout=60)
    assert res.stdout.strip().splitlines()[-1] == "[]"
