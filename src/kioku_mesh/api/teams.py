"""Team membership (and known users) in the hub's config, for access control.

`acl: {users: [alice, bob], teams: {core: [alice, bob]}}` in the hub's global
config. A running hub node notices the change and reapplies its access
control without losing data (the store is untouched; peers resync).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.config import Settings, read_yaml, write_yaml
from ..core.errors import ValidationError
from ..core.models import SLUG_RE


def _check(kind: str, name: str) -> str:
    if not SLUG_RE.match(name):
        raise ValidationError(f"invalid {kind} {name!r}: use letters, digits, . _ - (max 64)")
    return name


def load_acl(settings: Settings) -> dict[str, Any]:
    section = settings.raw_global.get("acl") or {}
    users = [str(u) for u in section.get("users") or []]
    teams = {str(t): [str(m) for m in (ms or [])] for t, ms in (section.get("teams") or {}).items()}
    return {"users": sorted(set(users) | issued_common_names(settings)), "teams": teams}


def issued_common_names(settings: Settings) -> set[str]:
    """CNs of certificates our CA issued, when this host is the CA host."""
    log = settings.state_dir / "tls" / "ca" / "issued.jsonl"
    names: set[str] = set()
    try:
        for line in log.read_text().splitlines():
            try:
                cn = json.loads(line).get("cn")
            except (ValueError, AttributeError):
                continue
            if isinstance(cn, str) and SLUG_RE.match(cn):
                names.add(cn)
    except OSError:
        pass
    return names


def _save(settings: Settings, users: list[str], teams: dict[str, list[str]]) -> None:
    data = read_yaml(settings.config_path)
    data["acl"] = {"users": sorted(set(users)),
                   "teams": {t: sorted(set(ms)) for t, ms in sorted(teams.items()) if ms}}
    write_yaml(settings.config_path, data)


def team_add(settings: Settings, team: str, members: list[str]) -> dict[str, list[str]]:
    _check("team", team)
    for m in members:
        _check("user", m)
    section = settings.raw_global.get("acl") or {}
    users = [str(u) for u in section.get("users") or []]
    teams = {str(t): [str(m) for m in (ms or [])] for t, ms in (section.get("teams") or {}).items()}
    teams[team] = sorted(set(teams.get(team, [])) | set(members))
    _save(settings, users + members, teams)
    return teams


def team_remove(settings: Settings, team: str, members: list[str]) -> dict[str, list[str]]:
    """Remove members from a team; with no members, remove the team."""
    _check("team", team)
    section = settings.raw_global.get("acl") or {}
    users = [str(u) for u in section.get("users") or []]
    teams = {str(t): [str(m) for m in (ms or [])] for t, ms in (section.get("teams") or {}).items()}
    if team not in teams:
        raise ValidationError(f"no team {team!r} (see `kioku-mesh team list`)")
    teams[team] = [m for m in teams[team] if m not in members] if members else []
    _save(settings, users, teams)
    return {t: ms for t, ms in teams.items() if ms}
