"""What `setup` wrote where, so `setup --uninstall` can give back the original bytes.

Taking our entries out of a JSON file re-serialises it, and a file setup
created would be left behind holding an empty table. So for every file setup
changes we record whether it existed, the hash of its bytes before our first
change (with the backup that holds them) and the hash of what we last wrote.
If, at uninstall, the file still hashes to what we wrote, nobody else touched
it since: the original comes back byte for byte (or the file goes, if it did
not exist). Otherwise we take out only our parts and keep the rest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..core.config import default_state_dir
from ..core.errors import ConfigError
from . import config_files as cf

FILE_NAME = "setup-manifest.json"


def manifest_path() -> Path:
    return default_state_dir() / FILE_NAME


def digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def load() -> dict[str, dict[str, Any]]:
    """{path: record}; an unreadable manifest is an error naming it (delete it to start over)."""
    path = manifest_path()
    raw = read_bytes(path)
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is not a setup manifest this version reads; move it aside "
                          "(uninstall then takes out only our entries, keeping the rest)") from None
    return files


def save(files: dict[str, dict[str, Any]]) -> None:
    if not files:  # nothing of setup's left anywhere: no manifest either
        manifest_path().unlink(missing_ok=True)
        return
    cf.write_atomic(manifest_path(), json.dumps({"version": 1, "files": files}, indent=2) + "\n")


def before_change(files: dict[str, dict[str, Any]], path: Path, client: str, kind: str,
                  clean: bool) -> None:
    """Note the file's state before setup changes it, unless an unbroken series of our
    own writes already holds the original. clean: the file holds nothing of ours yet
    (an original with an older entry or block of ours is not worth restoring)."""
    key = str(path)
    now = digest(read_bytes(path))
    record = files.get(key)
    if record is None or now is None:
        record = files[key] = {"client": client, "existed": now is not None, "original": now,
                               "clean": clean or now is None, "backup": None, "written": now,
                               "kinds": []}
    elif record.get("written") != now:
        # Changed by someone else since our last write: the bytes before it may hold our
        # earlier entries, so no original is known any more; uninstall edits surgically.
        record.update(existed=True, original=None, backup=None, broken=True)
    if kind not in record["kinds"]:
        record["kinds"].append(kind)


def after_change(files: dict[str, dict[str, Any]], path: Path, backup: Path | None) -> None:
    record = files[str(path)]
    if record["existed"] and not record.get("broken") and record["backup"] is None and backup:
        record["backup"] = str(backup)
    record["written"] = digest(read_bytes(path))


def original_bytes(record: dict[str, Any], current: bytes | None) -> tuple[bool, bytes | None]:
    """(restorable, original bytes or None when the file did not exist).

    Restorable only when the original held nothing of ours, the file is still exactly
    what setup last wrote, and the original is at hand (the backup is there and hashes right).
    """
    if not record.get("clean") or record.get("broken") or digest(current) != record.get("written"):
        return False, None
    if not record.get("existed"):
        return True, None
    backup = record.get("backup")
    data = read_bytes(Path(backup)) if backup else None
    if data is None or digest(data) != record.get("original"):
        return False, None
    return True, data
