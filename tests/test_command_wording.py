"""Issue 12 §4: every command says what it does, and what is true."""

from __future__ import annotations

import argparse
import json

import pytest
from cli_helpers import assert_one_line_error, counts, save_id
from mcp_helpers import connect, spawned  # noqa: F401 - spawned checks every server exits

from kioku_mesh.cli.main import build_parser


def _options(parser: argparse.ArgumentParser, path: list[str]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, [*path, name])
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield " ".join(path), action


def test_every_option_and_argument_has_help():
    missing = [f"{cmd} {'/'.join(a.option_strings) or a.dest}"
               for cmd, a in _options(build_parser(), []) if not a.help]
    assert missing == []


def test_purge_says_it_erases_everywhere_and_help_says_irreversible(km):
    oid = save_id(km, "a secret saved by mistake", "Oops")
    assert "irreversible" in km.run("purge", "--help", check=True).stdout.lower()
    assert "irreversible" in km.run("--help", check=True).stdout.lower()
    out = km.run("purge", oid[:10], check=True).stdout
    assert "this host's store" in out and "every peer" in out


def test_destructive_commands_preview_then_act_on_yes_with_right_plurals(km):
    keep = save_id(km, "kept for good", "Keep", "-p", "keep")
    gone = save_id(km, "old and deleted", "Old one", "-p", "scratch")
    for args in (["delete", "-p", "scratch"], ["gc", "--retention-days", "0"]):
        if args[0] == "gc":
            km.run("delete", gone, check=True)
        before = counts(km)
        res = km.run(*args, check=True)
        verb = "delete" if args[0] == "delete" else "remove"
        assert res.stdout.startswith(f"would {verb} 1 memory (add --yes to go ahead)\n"), res.stdout
        assert f"{gone[:12]}  Old one" in res.stdout
        assert counts(km) == before
        done = km.run(*args, "--yes", check=True).stdout
        assert done.startswith(f"{verb}d 1 memory" if verb == "delete" else "removed 1 memory ")
    assert "every peer" in done
    assert km.run("get", keep, check=True).returncode == 0
    # --execute still works for gc (older scripts).
    assert km.run("gc", "--retention-days", "0", "--execute", check=True).stdout.startswith(
        "removed 0 memories")


def test_delete_dry_run_of_one_id_shows_its_subject(km):
    oid = save_id(km, "one to look at", "Look at me")
    out = km.run("delete", oid[:8], "--dry-run", check=True).stdout
    assert out == f"would delete 1 memory\n  {oid[:12]}  Look at me\n"


def test_recall_of_an_unknown_project_says_so_and_names_the_known_ones(km):
    save_id(km, "ledger rules", "Ledger", "-p", "payments")
    out = km.run("recall", "-p", "paymnets", check=True).stdout
    assert "no memories in project 'paymnets'" in out and "payments" in out
    out = json.loads(km.run("recall", "-p", "paymnets", "--json", check=True).stdout)
    assert out["included"] == 0 and "payments" in out["note"]


def test_unusable_state_dir_is_explained_not_an_internal_error(km):
    km.state_dir.parent.mkdir(parents=True, exist_ok=True)
    km.state_dir.write_text("")
    for args in (["save", "x", "-s", "y"], ["status"], ["search", "x"]):
        err = assert_one_line_error(km.run(*args), 1, contains="is a file, not a directory")
        assert "KIOKU_MESH_STATE_DIR" in err


def test_a_path_that_cannot_be_used_is_named_not_an_internal_error(km):
    blocked = km.home / "a-file"
    blocked.write_text("")
    err = assert_one_line_error(km.run("export", "-o", str(blocked / "out.jsonl")), 1,
                                contains="cannot use")
    assert str(blocked / "out.jsonl") in err
    res = km.run("init", extra_env={"KIOKU_MESH_CONFIG": str(blocked / "config.yaml")})
    assert_one_line_error(res, None, contains=str(blocked))


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_age_has_one_format_in_cli_and_mcp(km):
    oid = save_id(km, "fresh memory", "Fresh")
    text = km.run("search", "fresh", check=True).stdout
    assert " <1m " in text
    assert "<1m ago" in km.run("get", oid, check=True).stdout
    async with connect(km) as c:
        hits = (await c.ok("search_memory", query="fresh")).structured_content["hits"]
        assert hits[0]["age"] == "<1m"
