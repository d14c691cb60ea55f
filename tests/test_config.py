"""Settings: env > project file > global file > default, and where files are found."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kioku_mesh.api import Memory
from kioku_mesh.core.config import DB_NAME, PROJECT_FILE, load_settings
from kioku_mesh.core.errors import ConfigError, ValidationError
from kioku_mesh.core.identity import PC_ID_FILE


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no kioku env vars, a tmp global config path, cwd in tmp.

    Returns the global config file path (not created).
    """
    for key in list(os.environ):
        if key.startswith(("KIOKU_MESH_", "MESH_MEM_", "XDG_")):
            monkeypatch.delenv(key)
    for key in ("CLAUDECODE", "GEMINI_CLI", "CODEX_SANDBOX", "CURSOR_AGENT"):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.chdir(work)
    return home / ".config" / "kioku-mesh" / "config.yaml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(cfg: Path, tmp_path: Path) -> None:
    s = load_settings()
    assert s.config_path == cfg
    assert s.project_config_path is None
    assert s.default_visibility == "mesh"
    assert s.team_id == "" and s.user_id == ""
    assert s.mode == "local"
    assert s.state_dir == tmp_path / "home" / ".local" / "share" / "kioku-mesh"
    assert s.limits.max_content_bytes == 64 * 1024


@pytest.mark.parametrize("name", ["default_visibility", "team_id"])
def test_priority_env_over_project_over_global_over_default(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    values = {
        "default_visibility": ("team", "user", "mesh"),  # env, project, global
        "team_id": ("from-env", "from-project", "from-global"),
    }[name]
    env_value, project_value, global_value = values
    work = tmp_path / "work"

    assert getattr(load_settings(), name) == ("mesh" if name == "default_visibility" else "")

    write(cfg, f"{name}: {global_value}\n")
    assert getattr(load_settings(), name) == global_value

    write(work / PROJECT_FILE, f"{name}: {project_value}\n")
    assert getattr(load_settings(), name) == project_value

    monkeypatch.setenv(f"KIOKU_MESH_{name.upper()}", env_value)
    assert getattr(load_settings(), name) == env_value


def test_mesh_mem_aliases_and_kioku_mesh_wins(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_MEM_TEAM_ID", "legacy-team")
    monkeypatch.setenv("MESH_MEM_USER_ID", "legacy-user")
    monkeypatch.setenv("MESH_MEM_DEFAULT_VISIBILITY", "user")
    monkeypatch.setenv("MESH_MEM_AGENT_FAMILY", "codex")
    s = load_settings()
    assert (s.team_id, s.user_id, s.default_visibility, s.agent_family) == (
        "legacy-team", "legacy-user", "user", "codex")
    monkeypatch.setenv("KIOKU_MESH_TEAM_ID", "new-team")
    assert load_settings().team_id == "new-team"


def test_empty_env_counts_as_unset(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, "team_id: global-team\n")
    monkeypatch.setenv("KIOKU_MESH_TEAM_ID", "")
    assert load_settings().team_id == "global-team"


def test_env_user_id_and_global_user_id(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, "user_id: alice\n")
    assert load_settings().user_id == "alice"
    monkeypatch.setenv("KIOKU_MESH_USER_ID", "bob")
    assert load_settings().user_id == "bob"


def test_project_file_setting_user_id_is_an_error(cfg: Path, tmp_path: Path) -> None:
    project = write(tmp_path / "work" / PROJECT_FILE, "user_id: mallory\n")
    with pytest.raises(ConfigError, match="user_id") as info:
        load_settings()
    assert str(project) in str(info.value)


def test_project_file_cannot_override_other_global_settings(cfg: Path, tmp_path: Path) -> None:
    write(cfg, "agent_family: gemini\n")
    write(tmp_path / "work" / PROJECT_FILE, "agent_family: codex\nteam_id: t1\n")
    s = load_settings()
    assert s.agent_family == "gemini"
    assert s.team_id == "t1"


def test_project_file_found_by_walking_up(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "work" / "repo"
    nested = repo / "src" / "pkg" / "deep"
    nested.mkdir(parents=True)
    project = write(repo / PROJECT_FILE, "default_visibility: team\nteam_id: platform\n")
    monkeypatch.chdir(nested)
    s = load_settings()
    assert s.project_config_path == project
    assert (s.default_visibility, s.team_id) == ("team", "platform")
    # An explicit cwd outside the repo does not see it.
    assert load_settings(cwd=tmp_path / "work").project_config_path is None
    # Memory(cwd=...) walks up from there too.
    assert Memory(cwd=nested).settings.team_id == "platform"


def test_nearest_project_file_wins(cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outer = tmp_path / "work"
    inner = outer / "sub"
    inner.mkdir()
    write(outer / PROJECT_FILE, "team_id: outer\n")
    write(inner / PROJECT_FILE, "team_id: inner\n")
    monkeypatch.chdir(inner)
    assert load_settings().team_id == "inner"


@pytest.mark.parametrize("where", ["global", "project"])
def test_invalid_yaml_names_the_file(cfg: Path, tmp_path: Path, where: str) -> None:
    path = cfg if where == "global" else tmp_path / "work" / PROJECT_FILE
    write(path, "team_id: [unclosed\n  other: {\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(path) in str(info.value)
    assert "YAML" in str(info.value)


def test_non_mapping_yaml_is_config_error(cfg: Path) -> None:
    write(cfg, "- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings()


def test_empty_config_file_is_fine(cfg: Path) -> None:
    write(cfg, "   \n# only a comment\n")
    assert load_settings().default_visibility == "mesh"


def test_bad_values_are_config_errors(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, "default_visibility: public\n")
    with pytest.raises(ConfigError, match="default_visibility"):
        load_settings()
    write(cfg, "mode: server\n")
    with pytest.raises(ConfigError, match="mode"):
        load_settings()
    write(cfg, "team_id: [a, b]\n")
    with pytest.raises(ConfigError, match="team_id"):
        load_settings()
    write(cfg, "max_content_bytes: lots\n")
    with pytest.raises(ConfigError, match="max_content_bytes"):
        load_settings()
    write(cfg, "max_content_bytes: 0\n")
    with pytest.raises(ConfigError, match="positive"):
        load_settings()


def test_kioku_mesh_config_env_points_at_the_global_file(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cfg, "team_id: xdg\n")
    other = write(tmp_path / "elsewhere.yaml", "team_id: explicit\n")
    assert load_settings().team_id == "xdg"
    monkeypatch.setenv("KIOKU_MESH_CONFIG", str(other))
    s = load_settings()
    assert s.config_path == other
    assert s.team_id == "explicit"


def test_state_dir_env_moves_store_and_pc_id(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "custom-state"
    monkeypatch.setenv("KIOKU_MESH_STATE_DIR", str(state))
    with Memory() as mem:
        assert mem.settings.state_dir == state
        mem.save("content here", "subject")
        pc_id = mem.identity.pc_id
    assert (state / DB_NAME).is_file()
    assert (state / PC_ID_FILE).read_text().strip() == pc_id
    default = tmp_path / "home" / ".local" / "share" / "kioku-mesh"
    assert not default.exists()


def test_state_dir_from_global_config_unless_env(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cfg, f"state_dir: {tmp_path / 'from-config'}\n")
    assert load_settings().state_dir == tmp_path / "from-config"
    monkeypatch.setenv("MESH_MEM_STATE_DIR", str(tmp_path / "from-env"))
    assert load_settings().state_dir == tmp_path / "from-env"
    assert load_settings().db_path == tmp_path / "from-env" / DB_NAME


def test_max_content_bytes_from_config_is_respected_by_save(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOKU_MESH_STATE_DIR", str(tmp_path / "state"))
    write(cfg, "max_content_bytes: 100\n")
    with Memory() as mem:
        assert mem.settings.limits.max_content_bytes == 100
        mem.save("x" * 100, "exactly at the limit")
        with pytest.raises(ValidationError, match="101 bytes"):
            mem.save("x" * 101, "one byte over")
        with pytest.raises(ValidationError, match="102 bytes"):
            mem.save("あ" * 34, "34 characters but 102 bytes")
    monkeypatch.setenv("KIOKU_MESH_MAX_CONTENT_BYTES", "200000")
    with Memory() as mem:
        assert mem.save("y" * 150_000, "big one allowed by env").observation.content == "y" * 150_000
