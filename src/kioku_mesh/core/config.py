"""Settings: environment > project file > global file > defaults.

Global file: $KIOKU_MESH_CONFIG, else $XDG_CONFIG_HOME/kioku-mesh/config.yaml.
Project file: the nearest `.kioku-mesh.yaml` from the working directory up;
it may set default_visibility, team_id and project (the default project of
saves and recall under that directory), never user_id (a committed file
must not pin a personal namespace). Keys a file may not hold and values of
the wrong type are warned about (core.config_check), never silently dropped.
Environment: KIOKU_MESH_<NAME>, with the older MESH_MEM_<NAME> accepted as
an alias.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .models import VISIBILITIES, Limits

PROJECT_FILE = ".kioku-mesh.yaml"
MODES = ("local", "hub", "spoke")
PROJECT_KEYS = ("default_visibility", "team_id", "project")
DB_NAME = "kioku.db"


def env(name: str, environ: dict[str, str] | None = None) -> str | None:
    """KIOKU_MESH_<name>, else MESH_MEM_<name>, else None (empty counts as unset)."""
    source = os.environ if environ is None else environ
    for prefix in ("KIOKU_MESH_", "MESH_MEM_"):
        value = source.get(prefix + name)
        if value:
            return value
    return None


def global_config_path() -> Path:
    explicit = env("CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kioku-mesh" / "config.yaml"


def default_state_dir() -> Path:
    explicit = env("STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kioku-mesh"


def find_project_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def read_yaml(path: Path, problems: list[Any] | None = None, *, project: bool = False
              ) -> dict[str, Any]:
    """The mapping in a YAML file ({} if absent). With `problems`, unknown keys
    and wrong types found in it are appended there (see core.config_check)."""
    data, text = _read_yaml(path)
    if problems is not None and data:
        from .config_check import check, key_lines

        found = check(path, data, {}, project=project)
        if found:  # line numbers cost a second parse: only when there is something to say
            found = check(path, data, key_lines(text), project=project)
        problems.extend(found)
    return data


def _read_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        return {}, text
    import yaml  # only paid for when a config file exists

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML") from None
    if data is None:
        return {}, text
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data, text


_warned: set[str] = set()


def warn_problems(problems: list[Any]) -> None:
    """Config problems on stderr, each once per process (stdout may carry a protocol)."""
    import sys

    for problem in problems:
        line = f"kioku-mesh: warning: {problem}"
        if line not in _warned:
            _warned.add(line)
            print(line, file=sys.stderr)


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Settings:
    state_dir: Path
    config_path: Path
    project_config_path: Path | None
    mode: str = "local"
    user_id: str = ""
    team_id: str = ""
    default_visibility: str = "mesh"
    agent_family: str = ""
    client_id: str = ""
    session_id: str = ""
    # Default project of saves and recall (project file or KIOKU_MESH_PROJECT).
    project: str = ""
    limits: Limits = field(default_factory=Limits)
    # SQLite durability: "normal" survives any process crash (kill -9);
    # "full" also the last commits on power loss, at one fsync per write.
    synchronous: str = "normal"
    raw_global: dict[str, Any] = field(default_factory=dict)
    # Secret redaction allowlist (global config `redaction:` and env only; see core.redact).
    redaction_allowlist: tuple[str, ...] = ()
    redaction_allow_patterns: tuple[str, ...] = ()
    # Unknown keys and wrong types in the config files (core.config_check.Problem).
    problems: list[Any] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.state_dir / DB_NAME

    @property
    def team_ids(self) -> tuple[str, ...]:
        """The team_id in effect plus any `teams:` list in the global config."""
        teams = [self.team_id] if self.team_id else []
        extra = self.raw_global.get("teams")
        if isinstance(extra, list):
            teams += [str(t) for t in extra]
        return tuple(dict.fromkeys(teams))

    def readable_scopes(self) -> list[str]:
        """Scopes this host's user may read: mesh, their user's, their teams'."""
        scopes = ["mesh"]
        if self.user_id:
            scopes.append(f"user/{self.user_id}")
        return scopes + [f"team/{t}" for t in self.team_ids]


def load_settings(cwd: Path | None = None, *, warn: bool = True) -> Settings:
    """The settings in effect; config problems go to stderr unless `warn` is off
    (doctor reports them itself). Unusable values raise ConfigError."""
    problems: list[Any] = []
    config_path = global_config_path()
    global_cfg = read_yaml(config_path, problems) if config_path.exists() else {}
    project_path = find_project_config(cwd)
    project_cfg = read_yaml(project_path, problems, project=True) if project_path else {}
    if "user_id" in project_cfg:
        raise ConfigError(
            f"{project_path}: user_id may not be set in a project file; "
            "set it in your global config or KIOKU_MESH_USER_ID"
        )

    def pick(name: str, *, project: bool = False, default: str = "") -> str:
        value = env(name.upper())
        if value is None and project and name in project_cfg:
            value = project_cfg[name]
        if value is None and name in global_cfg:
            value = global_cfg[name]
        if value is None:
            return default
        if not isinstance(value, str | int) or isinstance(value, bool):
            said = [p for p in problems if p.message.startswith(f"{name} must be")]
            raise ConfigError(str(said[0]) if said else
                              f"setting {name} must be a string, got {type(value).__name__}")
        return str(value).strip()

    state_dir = default_state_dir()
    if env("STATE_DIR") is None and global_cfg.get("state_dir"):
        state_dir = Path(str(global_cfg["state_dir"])).expanduser()

    settings = Settings(
        state_dir=state_dir,
        config_path=config_path,
        project_config_path=project_path,
        mode=pick("mode", default="local") or "local",
        user_id=pick("user_id"),
        team_id=pick("team_id", project=True),
        default_visibility=pick("default_visibility", project=True, default="mesh") or "mesh",
        agent_family=pick("agent_family"),
        client_id=pick("client_id"),
        session_id=pick("session_id"),
        # Not from the global file: one default project for every directory is no default.
        project=env("PROJECT") or (project_cfg["project"].strip()
                                   if isinstance(project_cfg.get("project"), str) else ""),
        raw_global=global_cfg,
        problems=problems,
    )
    settings.synchronous = (pick("synchronous", default="normal") or "normal").lower()
    if settings.synchronous not in ("normal", "full"):
        raise ConfigError(f"synchronous must be normal or full, got {settings.synchronous!r}")
    if settings.mode not in MODES:
        raise ConfigError(f"unknown mode {settings.mode!r}: choose one of {', '.join(MODES)}")
    if settings.default_visibility not in VISIBILITIES:
        raise ConfigError(
            f"default_visibility {settings.default_visibility!r} is not one of "
            f"{', '.join(VISIBILITIES)}"
        )
    max_bytes = pick("max_content_bytes")
    if max_bytes:
        try:
            settings.limits = Limits(max_content_bytes=int(max_bytes))
        except ValueError:
            raise ConfigError(f"max_content_bytes must be an integer, got {max_bytes!r}") from None
        if settings.limits.max_content_bytes <= 0:
            raise ConfigError("max_content_bytes must be positive")
    settings.redaction_allowlist, settings.redaction_allow_patterns = _redaction(global_cfg)
    if warn and problems:  # last: a config that cannot be used gets its one error line only
        warn_problems(problems)
    return settings


REDACTION_KEYS = ("allowlist", "allow_patterns")


def _redaction(global_cfg: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The secret-redaction allowlist: `redaction: {allowlist: [exact strings],
    allow_patterns: [regexes]}` in the global file (never a project file: a
    committed file must not switch redaction off), plus KIOKU_MESH_REDACTION_ALLOWLIST
    (comma-separated exact strings). There is deliberately no global off switch."""
    section = global_cfg.get("redaction") or {}
    if not isinstance(section, dict):
        raise ConfigError("redaction must be a mapping with allowlist and allow_patterns")
    unknown = sorted(set(section) - set(REDACTION_KEYS))
    if unknown:
        raise ConfigError(f"unknown redaction setting {unknown[0]!r}: use {' or '.join(REDACTION_KEYS)}")
    lists: list[list[str]] = []
    for key in REDACTION_KEYS:
        value = section.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"redaction.{key} must be a list of strings")
        lists.append([v for v in value if v])
    allowlist, patterns = lists
    extra = env("REDACTION_ALLOWLIST")
    if extra:
        allowlist += [v.strip() for v in extra.split(",") if v.strip()]
    import re

    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"redaction.allow_patterns: invalid regex {pattern!r}: {exc}") from None
    return tuple(allowlist), tuple(patterns)
