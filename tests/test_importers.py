"""`import --from FORMAT PATH`: each format's sample in tests/data/importers,
broken input, idempotence, versions of changed sections, redaction, and the
preview-then---yes flow through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, counts
from redaction_corpus import _GHP

from kioku_mesh.api.importers import FORMATS
from kioku_mesh.api.importing import import_source

DATA = Path(__file__).parent / "data" / "importers"


def repo_copy(tmp_path: Path, sample: str, name: str = "tidewater") -> Path:
    """The sample as a git checkout named `name` (the project comes from the repo)."""
    repo = tmp_path / name
    shutil.copytree(DATA / sample, repo)
    (repo / ".git").mkdir()
    return repo


def by_subject(result) -> dict[str, object]:
    return {p.observation.subject: p.observation for p in result.planned}


def stored(memory, **filters) -> list[dict]:
    return [o.to_wire() for o in memory.store.iter_observations()]


# ------------------------------------------------------------- instructions


def test_claude_md_one_memory_per_section_project_from_the_repo(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    result = import_source(memory, "claude-md", repo)
    assert result.problems == [] and result.files == ["CLAUDE.md"]
    memories = by_subject(result)
    # The single H1 is the file's title, not a topic; the text under it is a section.
    assert list(memories) == ["Tidewater", "Build and test", "Code style", "Code style > Errors",
                              "Decisions", "Deployment"]
    assert {o.memory_type for s, o in memories.items()} == {"pattern", "config", "decision"}
    assert memories["Build and test"].memory_type == "config"
    assert memories["Decisions"].memory_type == "decision"
    assert memories["Code style"].memory_type == "pattern"
    # A `#` line inside a code fence is not a heading: it stays in its section.
    assert "# not a heading" in memories["Code style"].content
    assert "Raise `TidewaterError`" in memories["Code style > Errors"].content
    for obs in memories.values():
        assert obs.project == "tidewater"
        assert obs.tags == ["claude-md", "instructions"]
        assert obs.source_files == ["CLAUDE.md"]
        assert obs.visibility == "mesh" and obs.summary
    # Nothing is written by planning alone.
    assert stored(memory) == []


def test_the_project_file_names_the_project(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions", name="checkout-3")
    (repo / ".kioku-mesh.yaml").write_text("project: tidewater-api\n")
    result = import_source(memory, "claude-md", repo / "CLAUDE.md")
    assert {p.observation.project for p in result.planned} == {"tidewater-api"}
    explicit = import_source(memory, "claude-md", repo, project="other")
    assert {p.observation.project for p in explicit.planned} == {"other"}


@pytest.mark.parametrize("fmt,subjects,config", [
    ("agents-md", ["Setup commands", "Testing instructions", "PR instructions"], "Setup commands"),
    ("gemini-md", ["General instructions", "Dependencies"], "Dependencies"),
])
def test_agents_and_gemini_md_from_the_repository_directory(memory, tmp_path, fmt, subjects, config):
    repo = repo_copy(tmp_path, "instructions")
    result = import_source(memory, fmt, repo)
    assert list(by_subject(result)) == subjects
    assert all(p.observation.tags[0] == fmt for p in result.planned)
    types = {s: o.memory_type for s, o in by_subject(result).items()}
    assert types == {s: "config" if s == config else "pattern" for s in subjects}


def test_an_oversized_section_is_reported_at_its_line_and_the_rest_kept(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    text = (repo / "CLAUDE.md").read_text()
    lines = text.count("\n")
    (repo / "CLAUDE.md").write_text(text + "\n## Huge table\n\n" + "| a | b |\n" * 8000)
    result = import_source(memory, "claude-md", repo)
    assert len(result.problems) == 1
    where, what = result.problems[0]
    assert where == f"CLAUDE.md:{lines + 2}" and "over the limit" in what
    assert len(result.planned) == 6


# ------------------------------------------------------------------- cursor


def test_cursor_rules_and_legacy_cursorrules(memory, tmp_path):
    repo = repo_copy(tmp_path, "cursor", name="harbour")
    result = import_source(memory, "cursor", repo)
    assert result.problems == []
    assert sorted(result.files) == [".cursor/rules/frontend/react-components.mdc",
                                    ".cursor/rules/project-overview.mdc",
                                    ".cursor/rules/python-style.mdc", ".cursorrules"]
    memories = by_subject(result)
    style = memories["Cursor rule python-style: Python style for the backend services"]
    assert style.content.startswith("- Use `ruff format`")
    assert "applies to services/**/*.py" in style.content
    assert style.tags == ["cursor-rule", "instructions"] and style.memory_type == "pattern"
    assert style.extras["cursor_globs"] == ["services/**/*.py"]
    overview = memories["Cursor rule project-overview"]
    assert "always-apply" in overview.tags and "always applies" in overview.content
    # `globs: *.tsx, ...` is not valid YAML; Cursor writes it, so it is read as text.
    react = memories["Cursor rule react-components: React component conventions"]
    assert react.extras["cursor_globs"] == ["*.tsx", "web/src/**/*.ts"]
    assert {"Key principles", "Error handling", ".cursorrules (introduction)"} <= set(memories)
    assert memories["Key principles"].tags == ["cursor-rules", "cursor", "instructions"]
    assert {o.project for o in memories.values()} == {"harbour"}


def test_broken_cursor_rules_are_reported_by_line_and_good_ones_kept(memory, tmp_path):
    repo = repo_copy(tmp_path, "cursor-broken")
    result = import_source(memory, "cursor", repo)
    assert sorted(result.problems) == [
        (".cursor/rules/bad-yaml.mdc:3", "front matter: expected ',' or ']', but got ':'"),
        (".cursor/rules/unclosed.mdc:1", "front matter opened by `---` is never closed"),
    ]
    assert list(by_subject(result)) == ["Cursor rule good: SQL migrations"]


# --------------------------------------------------------------- mcp-memory


def test_mcp_memory_graph_one_memory_per_entity_with_its_relations(memory):
    result = import_source(memory, "mcp-memory", DATA / "mcp-memory" / "memory.json")
    assert result.problems == []
    memories = by_subject(result)
    assert list(memories) == ["Tidewater (project)", "Dana_Okafor (person)",
                              "PostgreSQL (technology)", "Cron_Lock_Decision (decision)"]
    tide = memories["Tidewater (project)"]
    assert tide.content.splitlines() == [
        "- Publishes tide-gauge readings as a JSON feed",
        "- Backend in Python 3.12, frontend in React",
        "", "Relations:",
        "- Dana_Okafor maintains Tidewater",
        "- Tidewater stores readings in PostgreSQL",
        "- Cron_Lock_Decision applies to Tidewater",
    ]
    # Both ends of a relation carry it.
    assert "- Dana_Okafor maintains Tidewater" in memories["Dana_Okafor (person)"].content
    assert tide.tags == ["mcp-memory", "project"] and tide.project == ""
    assert memories["Cron_Lock_Decision (decision)"].memory_type == "decision"
    assert memories["Dana_Okafor (person)"].memory_type == "note"


def test_broken_graph_lines_are_reported_by_number_and_good_ones_kept(memory):
    result = import_source(memory, "mcp-memory", DATA / "mcp-memory" / "broken.json")
    label = str(DATA / "mcp-memory" / "broken.json")
    assert [(where.removeprefix(label + ":"), what.split(" (")[0]) for where, what in result.problems] == [
        ("2", "not valid JSON"),
        ("3", "entity without a name"),
        ("4", "entity 'Gauge_7': observations must be a list of strings"),
        ("5", "unknown record type 'note'"),
        ("6", "relation Ghost_A -haunts-> Ghost_B: neither entity is in the file"),
        ("8", "entity 'Empty_One' has no observations or relations: nothing to import"),
    ]
    (only,) = result.planned
    assert only.observation.subject == "Harbour_API (service)"
    assert only.location == f"{label}:1"
    # A relation to an entity the file does not have still belongs to the one it has.
    assert "- Harbour_API part of Tidewater" in only.observation.content


# ------------------------------------------------------- mcp-memory-service


def test_mcp_memory_service_export(memory):
    result = import_source(memory, "mcp-memory-service",
                           DATA / "mcp-memory-service" / "export.json")
    assert result.problems == []
    obs = [p.observation for p in result.planned]
    assert [o.memory_type for o in obs] == ["note", "decision", "bug", "summary"]
    assert obs[0].created_at == "2025-11-27T08:00:00.500000Z"  # a Unix time in the export
    assert obs[2].created_at == "2026-11-20T14:03:00.000000Z"  # an ISO one
    assert obs[0].tags == ["postgres", "performance", "mcp-memory-service"]
    # A comma-separated tag string, and the source's own type kept when it differs.
    assert obs[2].tags == ["bugfix", "importer", "mcp-memory-service", "bug-fix"]
    assert obs[0].subject.startswith("The readings table is partitioned by month")
    assert obs[0].extras["source_machine"] == "dana-laptop"
    assert obs[0].extras["content_hash"].startswith("5f0c8a7f")


def test_broken_export_entries_are_reported_and_good_ones_kept(memory):
    path = DATA / "mcp-memory-service" / "broken.json"
    result = import_source(memory, "mcp-memory-service", path)
    assert result.problems == [
        (f"{path}:12", "entry has no content"),
        (f"{path}:18", "created_at 'last tuesday' is not a time"),
        (f"{path}: memories[3]", "entry is not a JSON object"),
    ]
    assert [p.observation.tags for p in result.planned] == [["testing", "mcp-memory-service"]]


# ------------------------------------------------------------- basic-memory


def test_basic_memory_notes(memory):
    result = import_source(memory, "basic-memory", DATA / "basic-memory")
    assert result.problems == []
    memories = by_subject(result)
    assert sorted(memories) == ["Dana Okafor", "Feed Caching", "Ingestion Pipeline"]
    caching = memories["Feed Caching"]
    assert caching.memory_type == "decision"  # every observation is a [decision]
    assert caching.tags == ["basic-memory", "feed", "performance", "caching", "ingestion"]
    assert "- implements [[Public Feed Requirements]]" in caching.content
    assert caching.extras["permalink"] == "decisions/feed-caching"
    dana = memories["Dana Okafor"]
    assert dana.tags == ["basic-memory", "team", "ingestion", "Person"]
    assert memories["Ingestion Pipeline"].memory_type == "note"
    assert "mqtt" in memories["Ingestion Pipeline"].tags


def test_broken_basic_memory_notes(memory):
    base = DATA / "basic-memory-broken"
    result = import_source(memory, "basic-memory", base)
    assert result.problems == [
        (f"{base / 'bad-front-matter.md'}:4", "front matter: expected ',' or ']', but got ':'"),
        (f"{base / 'empty-note.md'}:6", "the note has no text"),
    ]
    assert list(by_subject(result)) == ["Alert Thresholds"]


# ------------------------------------------------- idempotence and versions


SAMPLES = [("claude-md", "instructions", True), ("agents-md", "instructions", True),
           ("gemini-md", "instructions", True), ("cursor", "cursor", True),
           ("mcp-memory", "mcp-memory/memory.json", False),
           ("mcp-memory-service", "mcp-memory-service/export.json", False),
           ("basic-memory", "basic-memory", False)]


def test_every_format_has_a_sample():
    assert sorted(f for f, _, _ in SAMPLES) == sorted(FORMATS)


@pytest.mark.parametrize("fmt,sample,in_repo", SAMPLES)
def test_a_second_import_adds_nothing(memory, tmp_path, fmt, sample, in_repo):
    path = repo_copy(tmp_path, sample) if in_repo else DATA / sample
    first = import_source(memory, fmt, path, apply=True)
    assert first.added == len(first.planned) > 0
    again = import_source(memory, fmt, path, apply=True)
    assert (again.added, again.planned, again.unchanged) == (0, [], first.added)
    assert len(stored(memory)) == first.added


def test_a_changed_section_becomes_a_new_version_that_supersedes_it(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    first = import_source(memory, "claude-md", repo, apply=True)
    old = by_subject(first)["Decisions"].observation_id
    claude = repo / "CLAUDE.md"
    claude.write_text(claude.read_text().replace("advisory lock", "advisory lock (pg 16)"))
    second = import_source(memory, "claude-md", repo, apply=True)
    assert [(p.status, p.observation.subject) for p in second.planned] == [("changed", "Decisions")]
    new = second.planned[0].observation
    assert new.supersedes == [old] and new.observation_id != old
    from kioku_mesh.api import SearchQuery

    hits = memory.search(SearchQuery(text="advisory lock")).hits
    assert [h.observation.observation_id for h in hits] == [new.observation_id]
    assert import_source(memory, "claude-md", repo, apply=True).planned == []
    # Back to the first text: a third version (the first stays hidden), then stable again.
    claude.write_text(claude.read_text().replace("advisory lock (pg 16)", "advisory lock"))
    third = import_source(memory, "claude-md", repo, apply=True)
    assert sorted(third.planned[0].observation.supersedes) == sorted([old, new.observation_id])
    assert import_source(memory, "claude-md", repo).planned == []


def test_a_deleted_import_is_not_brought_back(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    first = import_source(memory, "agents-md", repo, apply=True)
    memory.delete(first.planned[0].observation.observation_id, "not useful")
    again = import_source(memory, "agents-md", repo)
    assert again.planned == [] and again.unchanged == 3


# ---------------------------------------------------------------- redaction


def test_a_secret_in_an_imported_section_is_redacted(memory, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    claude = repo / "CLAUDE.md"
    claude.write_text(claude.read_text() + f"\n## Tokens\n\nThe deploy bot uses {_GHP} for now.\n")
    result = import_source(memory, "claude-md", repo, apply=True)
    tokens = by_subject(result)["Tokens"]
    assert _GHP not in tokens.content and "[REDACTED:github_token]" in tokens.content
    assert _GHP not in tokens.summary
    assert result.redactions == {"github_token": 1} and result.redacted_memories == 1
    assert not any(_GHP in json.dumps(o) for o in stored(memory))


# ---------------------------------------------------------------- the CLI


def test_cli_previews_without_yes_then_imports_with_it(km, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    preview = km.run("import", "--from", "claude-md", str(repo), input="")
    assert preview.returncode == 0, preview.stderr
    assert "would import 6 memories (add --yes to go ahead)" in preview.stdout
    assert "Build and test" in preview.stdout
    dry = km.run("import", "--from", "claude-md", str(repo), "--dry-run", "--yes", input="")
    assert dry.returncode == 0 and "would import 6 memories" in dry.stdout
    assert counts(km)["total"] == 0
    done = km.run("import", "--from", "claude-md", str(repo), "--yes", input="")
    assert done.returncode == 0, done.stderr
    assert "imported 6 new memories" in done.stdout
    assert counts(km)["total"] == 6
    again = km.run("import", "--from", "claude-md", str(repo), "--yes", "--json", input="")
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["unchanged"], summary["added"]) == (0, 6, 0)
    assert counts(km)["total"] == 6


def test_cli_json_preview_lists_memories_and_problems(km):
    res = km.run("import", "--from", "mcp-memory", str(DATA / "mcp-memory" / "broken.json"),
                 "--json", input="")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["dry_run"] is True and out["new"] == 1 and out["added"] == 0
    assert [m["subject"] for m in out["memories"]] == ["Harbour_API (service)"]
    assert [p["location"].rsplit(":", 1)[1] for p in out["problems"]] == ["2", "3", "4", "5", "6", "8"]
    assert counts(km)["total"] == 0


def test_cli_reports_bad_lines_on_stderr_and_fails_only_when_nothing_is_usable(km, tmp_path):
    partly = km.run("import", "--from", "mcp-memory-service",
                    str(DATA / "mcp-memory-service" / "broken.json"), "--yes", input="")
    assert partly.returncode == 0
    assert "broken.json:12: entry has no content" in partly.stderr
    assert counts(km)["total"] == 1
    bad = tmp_path / "export.json"
    bad.write_text('{"memories": [\n  {"content": "x",}\n]}\n')
    res = km.run("import", "--from", "mcp-memory-service", str(bad), "--yes", input="")
    assert res.returncode == 1
    assert f"{bad}:2: not valid JSON" in res.stderr and "Traceback" not in res.stderr


def test_cli_errors_are_one_line(km, tmp_path):
    missing = km.run("import", "--from", "basic-memory", str(tmp_path / "nope"), input="")
    assert_one_line_error(missing, 2, contains="no such file or directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = km.run("import", "--from", "cursor", str(empty), input="")
    assert_one_line_error(nothing, 2, contains="nothing to import")
    jsonl = km.run("import", str(tmp_path / "x.jsonl"), "--dry-run", input="")
    assert_one_line_error(jsonl, 2, contains="go with --from")
    unknown = km.run("import", "--from", "notion", "x", input="")
    assert_one_line_error(unknown, 2, contains="invalid choice")


def test_cli_redaction_note(km, tmp_path):
    repo = repo_copy(tmp_path, "instructions")
    (repo / "AGENTS.md").write_text(f"# AGENTS.md\n\n## Access\n\nUse {_GHP} to push.\n")
    res = km.run("import", "--from", "agents-md", str(repo), "--yes", input="")
    assert res.returncode == 0
    assert "note: redacted 1 secret (github_token) in 1 memory" in res.stderr
    exported = km.run("export", input="", check=True).stdout
    assert _GHP not in exported and "[REDACTED:github_token]" in exported


def test_cli_format_list_matches_the_library():
    from kioku_mesh.cli.main import IMPORT_FORMATS

    assert list(IMPORT_FORMATS) == ["jsonl", *FORMATS]
