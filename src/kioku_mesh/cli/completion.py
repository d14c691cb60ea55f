"""Shell completion scripts for bash, zsh and fish, generated from the
argparse parser itself so they cannot drift from the commands.

The parser is walked into a table (per command path: subcommands, options,
options that take a value, and what values an option or positional takes),
written into each script as small lookup functions. One walk function reads
the words before the cursor the way argparse will (an option that takes a
value eats the next word), so every shell completes the same things.
Project names are the only values read at completion time, from the store,
through `kioku-mesh __complete projects` (main() answers it before building
the parser).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.models import MEMORY_TYPES

SHELLS = ("bash", "zsh", "fish")
FILES = "@files"
PROJECTS = "@projects"
# Options and positionals whose values are project names (read from the store).
_PROJECT_DESTS = {"project", "current_project", "old"}
_FILE_DESTS = {"file", "output", "source"}


@dataclass
class Node:
    commands: dict[str, Node] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    value_options: dict[str, str] = field(default_factory=dict)  # flag -> values ("" = free text)
    positionals: list[str] = field(default_factory=list)
    variadic: bool = False  # the last positional takes any number of words
    help: dict[str, str] = field(default_factory=dict)  # subcommand or flag -> its help line


def _values(action: argparse.Action) -> str:
    if action.choices:
        return " ".join(str(c) for c in action.choices)
    if action.dest in _PROJECT_DESTS:
        return PROJECTS
    if action.dest == "memory_type":
        return " ".join(MEMORY_TYPES)
    if action.dest == "visibility":
        return "mesh user team legacy" if action.option_strings and action.metavar == "TIER" \
            else "mesh user team"
    if action.dest in _FILE_DESTS or action.metavar in ("PATH", "FILE"):
        return FILES
    return ""


def _line(text: str | None) -> str:
    """A help text as a short description (argparse's %-escapes undone)."""
    words = " ".join(str(text or "").replace("%%", "%").split())
    return words if len(words) <= 70 else words[:69].rstrip() + "…"


def tree(parser: argparse.ArgumentParser) -> Node:
    node = Node()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            # Aliases (`get`) share their command's parser, and so its help.
            helps = {id(action.choices[c.dest]): c.help for c in action._choices_actions
                     if c.dest in action.choices}
            for name, sub in action.choices.items():
                if not name.startswith("_"):
                    node.commands[name] = tree(sub)
                    node.help[name] = _line(helps.get(id(sub)))
        elif action.help == argparse.SUPPRESS:
            continue
        elif action.option_strings:
            node.options.extend(action.option_strings)
            for flag in action.option_strings:
                node.help[flag] = _line(action.help)
            if action.nargs != 0:
                for flag in action.option_strings:
                    node.value_options[flag] = _values(action)
        else:
            node.positionals.append(_values(action))
            node.variadic = action.nargs in ("*", "+")
    return node


def _paths(node: Node, path: str = "") -> list[tuple[str, Node]]:
    out = [(path, node)]
    for name, sub in node.commands.items():
        out += _paths(sub, f"{path} {name}".strip())
    return out


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ------------------------------------------------------------ bash and zsh


def _sh_table(name: str, rows: list[tuple[str, str]], default: str = "") -> str:
    """A lookup function: `NAME KEY` sets REPLY (POSIX case: bash and zsh)."""
    lines = [f"_kioku_mesh_{name}() {{", '    case "$1" in']
    for key, value in rows:
        lines.append(f"        {key}) REPLY={_q(value)} ;;")
    lines += [f"        *) REPLY={_q(default)} ;;", "    esac", "}"]
    return "\n".join(lines)


def _sh_tables(root: Node) -> str:
    paths = _paths(root)
    subs = [(_q(p), " ".join(n.commands)) for p, n in paths if n.commands]
    opts = [(_q(p), " ".join(n.options)) for p, n in paths if n.options]
    vopts = [(_q(p), " ".join(n.value_options)) for p, n in paths if n.value_options]
    optvals = [(_q(f"{p}|{flag}"), values) for p, n in paths
               for flag, values in n.value_options.items() if values]
    posvals = []
    for p, n in paths:
        for i, values in enumerate(n.positionals):
            if values:
                posvals.append((_q(f"{p}|{i}"), values))
        if n.variadic and n.positionals and n.positionals[-1]:
            posvals.append((_q(f"{p}|") + "*", n.positionals[-1]))
    descs = [(_q(f"{p}|{word}"), text) for p, n in paths for word, text in n.help.items() if text]
    return "\n\n".join([_sh_table("subs", subs), _sh_table("opts", opts),
                        _sh_table("vopts", vopts), _sh_table("optvals", optvals),
                        _sh_table("posvals", posvals), _sh_table("desc", descs)])


_SH_WALK = r'''
# _kioku_mesh_walk CUR WORD...: what may come at the cursor, given the words
# before it (without the program name), in REPLY: words, @files or @projects.
_kioku_mesh_walk() {
    local cur="$1" path="" npos=0 expect="" w
    shift
    for w in "$@"; do
        if [[ -n $expect ]]; then expect=""; continue; fi
        case "$w" in
            --*=*) continue ;;
            -?*) _kioku_mesh_vopts "$path"
                 if [[ " $REPLY " == *" $w "* ]]; then expect="$w"; fi
                 continue ;;
        esac
        _kioku_mesh_subs "$path"
        if [[ $npos -eq 0 && -n $REPLY && " $REPLY " == *" $w "* ]]; then
            path="${path:+$path }$w"
        else
            npos=$((npos + 1))
        fi
    done
    _kioku_mesh_at="$path"  # for the descriptions (zsh)
    if [[ -n $expect ]]; then
        _kioku_mesh_optvals "$path|$expect"
    elif [[ $cur == -* ]]; then
        _kioku_mesh_opts "$path"
    else
        _kioku_mesh_subs "$path"
        if [[ -z $REPLY ]]; then _kioku_mesh_posvals "$path|$npos"; fi
    fi
}
'''

_BASH_MAIN = r'''
_kioku_mesh() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    _kioku_mesh_walk "$cur" "${COMP_WORDS[@]:1:COMP_CWORD-1}"
    case "$REPLY" in
        @files)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        @projects)
            COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete projects 2>/dev/null)" -- "$cur")) ;;
        *)
            COMPREPLY=($(compgen -W "$REPLY" -- "$cur")) ;;
    esac
}
complete -F _kioku_mesh kioku-mesh
'''

_ZSH_MAIN = r'''
_kioku_mesh() {
    local -a found shown
    local word
    _kioku_mesh_walk "${words[CURRENT]}" "${(@)words[2,CURRENT-1]}"
    case "$REPLY" in
        @files) _files ;;
        @projects)
            found=(${(f)"$(${words[1]} __complete projects 2>/dev/null)"})
            compadd -a found ;;
        *)
            found=(${=REPLY})
            for word in $found; do
                _kioku_mesh_desc "$_kioku_mesh_at|$word"
                shown+=("$word${REPLY:+  -- $REPLY}")
            done
            compadd -l -d shown -a found ;;
    esac
}
# Autoloaded from $fpath, this file is the body of `_kioku-mesh`, run on every
# TAB: complete. Sourced: register the function instead.
if [[ ${funcstack[1]} == _kioku-mesh ]]; then
    _kioku_mesh "$@"
elif (( $+functions[compdef] )); then
    compdef _kioku_mesh kioku-mesh
fi
'''


def bash_script(parser: argparse.ArgumentParser) -> str:
    return (f"# kioku-mesh completion for bash (generated by `kioku-mesh completion bash`)\n\n"
            f"{_sh_tables(tree(parser))}\n{_SH_WALK}{_BASH_MAIN}")


def zsh_script(parser: argparse.ArgumentParser) -> str:
    return (f"#compdef kioku-mesh\n# kioku-mesh completion for zsh (generated by "
            f"`kioku-mesh completion zsh`)\n\n{_sh_tables(tree(parser))}\n{_SH_WALK}{_ZSH_MAIN}")


# -------------------------------------------------------------------- fish


def _fish_table(name: str, rows: list[tuple[str, str]]) -> str:
    lines = [f"function __kioku_mesh_{name}", '    switch "$argv[1]"']
    for key, value in rows:
        lines += [f"        case {key}", f"            printf '%s\\n' {value}" if value else
                  "            true"]
    lines += ["    end", "end"]
    return "\n".join(lines)


def _fish_words(value: str) -> str:
    return " ".join(_q(w) for w in value.split())


def _fish_tables(root: Node) -> str:
    paths = _paths(root)
    subs = [(_q(p), _fish_words(" ".join(n.commands))) for p, n in paths if n.commands]
    opts = [(_q(p), _fish_words(" ".join(n.options))) for p, n in paths if n.options]
    vopts = [(_q(p), _fish_words(" ".join(n.value_options))) for p, n in paths if n.value_options]
    optvals = [(_q(f"{p}|{flag}"), _fish_words(values)) for p, n in paths
               for flag, values in n.value_options.items() if values]
    posvals = []
    for p, n in paths:
        for i, values in enumerate(n.positionals):
            if values:
                posvals.append((_q(f"{p}|{i}"), _fish_words(values)))
        if n.variadic and n.positionals and n.positionals[-1]:
            posvals.append((_q(f"{p}|") + "'*'", _fish_words(n.positionals[-1])))
    descs = [(_q(f"{p}|{word}"), _q(text)) for p, n in paths for word, text in n.help.items()
             if text]
    return "\n\n".join([_fish_table("subs", subs), _fish_table("opts", opts),
                        _fish_table("vopts", vopts), _fish_table("optvals", optvals),
                        _fish_table("posvals", posvals), _fish_table("desc", descs)])


_FISH_MAIN = r'''
function __kioku_mesh_complete
    set -l tokens (commandline -opc)
    set -l program $tokens[1]
    set -e tokens[1]
    set -l cur (commandline -ct)
    set -l path ''
    set -l npos 0
    set -l expect ''
    for w in $tokens
        if test -n "$expect"
            set expect ''
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-?*'
                if contains -- $w (__kioku_mesh_vopts "$path")
                    set expect $w
                end
                continue
        end
        if test $npos -eq 0; and contains -- $w (__kioku_mesh_subs "$path")
            set path (string trim -- "$path $w")
        else
            set npos (math $npos + 1)
        end
    end
    set -l out
    if test -n "$expect"
        set out (__kioku_mesh_optvals "$path|$expect")
    else if string match -q -- '-*' $cur
        set out (__kioku_mesh_opts "$path")
    else
        set out (__kioku_mesh_subs "$path")
        if test (count $out) -eq 0
            set out (__kioku_mesh_posvals "$path|$npos")
        end
    end
    switch "$out"
        case '@files'
            __fish_complete_path $cur
        case '@projects'
            $program __complete projects 2>/dev/null
        case '*'
            for word in $out
                set -l text (__kioku_mesh_desc "$path|$word")
                if test -n "$text"
                    printf '%s\t%s\n' $word $text
                else
                    printf '%s\n' $word
                end
            end
    end
end

complete -c kioku-mesh -f -a '(__kioku_mesh_complete)'
'''


def fish_script(parser: argparse.ArgumentParser) -> str:
    return (f"# kioku-mesh completion for fish (generated by `kioku-mesh completion fish`)\n\n"
            f"{_fish_tables(tree(parser))}\n{_FISH_MAIN}")


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell](parser)


# ------------------------------------------------------------------ install


def install_path(shell: str) -> Path:
    """Where each shell looks for completions without any set-up (bash with
    the bash-completion package, fish always); zsh: a directory that must be
    on $fpath (install() says how)."""
    home = Path.home()
    if shell == "bash":
        base = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        return Path(base) / "bash-completion" / "completions" / "kioku-mesh"
    if shell == "fish":
        base = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        return Path(base) / "fish" / "completions" / "kioku-mesh.fish"
    return Path(os.environ.get("ZDOTDIR") or str(home)) / ".zfunc" / "_kioku-mesh"


def next_step(shell: str, path: Path) -> str:
    if shell == "bash":
        return ("bash loads it in new shells when the bash-completion package is installed; "
                f"otherwise add `source {path}` to ~/.bashrc")
    if shell == "fish":
        return "fish loads it in new shells"
    return (f"add `fpath=({path.parent} $fpath)` before `autoload -Uz compinit && compinit` "
            "in ~/.zshrc (once), then start a new shell")


def cmd_completion(args: argparse.Namespace) -> int:
    from .main import build_parser
    from .render import dump_json

    text = script(args.shell, build_parser())
    if not args.install:
        print(text, end="")
        return 0
    path = install_path(args.shell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if getattr(args, "json", False):
        dump_json({"shell": args.shell, "path": str(path), "next": next_step(args.shell, path)})
    else:
        print(f"wrote {path}\n{next_step(args.shell, path)}")
    return 0
