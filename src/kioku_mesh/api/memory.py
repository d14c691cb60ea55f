"""`Memory`: save, find, read and delete memories on this host's store."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Settings, load_settings
from ..core.errors import (
    AmbiguousIdError,
    ConfigError,
    KiokuError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from ..core.identity import Identity, resolve_identity
from ..core.models import (
    MEMORY_TYPES,
    Observation,
    Tombstone,
    check_text,
    derive_summary,
    is_valid_id,
    new_id,
    validate_new,
)
from ..core.timeutil import format_ts, now_wire, parse_when
from ..store import links
from ..store.db import Store, row_to_observation
from ..store.search import (
    SUPERSEDED_SQL,
    TOMBSTONED_SQL,
    ReaderScope,
    SearchQuery,
    SearchResult,
    similar_candidates,
)
from ..store.textindex import words_for_index
from . import latency

if TYPE_CHECKING:
    from ..core.redact import Allowlist, Redaction
    from .recall import RecallPack


@dataclass
class Similar:
    observation_id: str
    subject: str
    similarity: float


@dataclass
class SaveResult:
    observation: Observation
    scope: str  # "mesh", "user/<id>" or "team/<id>"
    similar: list[Similar] = field(default_factory=list)
    # Secrets replaced by [REDACTED:<kind>] before storing: kind, field, count (never the secret).
    redactions: list[Redaction] = field(default_factory=list)
    # Key-shaped documentation placeholders left as they are (AKIAIOSFODNN7EXAMPLE).
    placeholders: list[str] = field(default_factory=list)
    # `supersedes` entries in another scope: kept, but they hide nothing (ADR 0013).
    ignored_supersedes: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [f"{oid[:12]} is in another scope: this memory does not hide it (ADR 0013); "
                "delete it there if it is obsolete" for oid in self.ignored_supersedes]


NEAR_DUPLICATE = 0.6
# Mean of subject and content cosines (static model) at or above which a saved
# memory is pointed at as saying the same as an existing one (ADR 0025).
# Hand-made paraphrases measured 0.72-0.91, an edit of the same memory (the
# hint's real use: supersede it) 0.77, unrelated memories 0.28 or less.
PARAPHRASE = 0.7
SUBJECT_OVERLAP = 0.5  # share of subject words a candidate needs to be compared
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(words_for_index(text).lower()))


def _shingles(text: str) -> set[str]:
    words = _WORD.findall(words_for_index(text).lower())
    return set(words) | {a + " " + b for a, b in zip(words, words[1:], strict=False)}


@dataclass
class MemoryView:
    observation: Observation
    tombstone: Tombstone | None
    superseded_by: list[str]
    expired: bool
    # Links across scopes, kept as data but without effect (ADR 0013).
    ignored_supersedes: list[str] = field(default_factory=list)
    ignored_successors: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return self.tombstone is not None or bool(self.superseded_by) or self.expired

    def state(self, id_len: int = 32) -> list[str]:
        """One line per fact about how this memory is shown (CLI and MCP)."""
        out = []
        if self.tombstone:
            out.append(f"deleted {self.tombstone.deleted_at} ({self.tombstone.reason})")
        if self.superseded_by:
            out.append("superseded by " + ", ".join(i[:id_len] for i in self.superseded_by))
        if self.expired:
            out.append("expired")
        if self.ignored_supersedes:
            out.append("supersedes " + ", ".join(i[:id_len] for i in self.ignored_supersedes)
                       + ": ignored, another scope (ADR 0013)")
        if self.ignored_successors:
            out.append("named in supersedes by " + ", ".join(
                i[:id_len] for i in self.ignored_successors)
                + " of another scope: ignored, still shown (ADR 0013)")
        return out


def scope_label(visibility: str, scope_id: str) -> str:
    return f"{visibility}/{scope_id}" if scope_id else (visibility or "legacy")


def split_list(values: str | Sequence[str] | None) -> list[str]:
    """Accept "a,b" or ["a", "b"]; strip blanks, keep order, drop duplicates."""
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"expected text, got {type(item).__name__}")
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


class Memory:
    """The host's memory: one settings snapshot, one identity, one store."""

    def __init__(self, settings: Settings | None = None, *, cwd: Path | None = None) -> None:
        self.settings = settings or load_settings(cwd)
        self._store: Store | None = None
        self._identity: Identity | None = None
        self._allowlist: Allowlist | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = Store.open(self.settings.db_path,
                                         synchronous=self.settings.synchronous)
            except StoreError as exc:
                raise self._unusable_state_dir(exc) from None
        return self._store

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            try:
                self._identity = resolve_identity(self.settings)
            except (OSError, ConfigError) as exc:
                raise self._unusable_state_dir(exc) from None
        return self._identity

    def _unusable_state_dir(self, exc: Exception) -> KiokuError:
        """Say which directory is wrong and how to pick another, not just errno."""
        state = self.settings.state_dir
        blocker = next((p for p in (state, *state.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            why = f"{blocker} is a file, not a directory"
        elif blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
            why = f"no permission to write in {blocker}"
        elif isinstance(exc, KiokuError) and "state dir" not in str(exc) and state.is_dir() \
                and os.access(state, os.W_OK):
            return exc  # the directory is fine: the store itself is the problem
        elif isinstance(exc, OSError) and exc.strerror:
            why = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
        else:
            why = str(exc)
        return StoreError(f"cannot use the state dir {state}: {why}; set KIOKU_MESH_STATE_DIR "
                          "(or state_dir in the config) to a directory you can write")

    @property
    def reader_scope(self) -> ReaderScope:
        return ReaderScope(user_id=self.settings.user_id, team_ids=self.settings.team_ids)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- save

    def save(
        self,
        content: str,
        subject: str,
        *,
        summary: str | None = None,
        project: str = "",
        tags: str | Sequence[str] | None = None,
        memory_type: str = "note",
        importance: int = 2,
        visibility: str | None = None,
        source_files: str | Sequence[str] | None = None,
        references: str | Sequence[str] | None = None,
        supersedes: str | Sequence[str] | None = None,
        ttl_sec: int | None = None,
        expires_at: str | None = None,
        check_similar: bool = True,
        allow_secrets: bool = False,
    ) -> SaveResult:
        """Redact secrets, validate, commit locally and return; replication
        happens elsewhere. `allow_secrets=True` stores the text as given."""
        if not isinstance(content, str) or not isinstance(subject, str):
            raise ValidationError("content and subject must be text")
        ident = self.identity
        vis = (visibility or self.settings.default_visibility).strip().lower()
        scope_id = {"user": ident.user_id, "team": ident.team_id}.get(vis, "")
        now = time.time()
        obs = Observation(
            observation_id=new_id(),
            created_at=format_ts(now),
            content=content,
            subject=subject.strip(),
            summary=summary.strip() if summary else "",
            project=self._current_project((project or self.settings.project).strip()),
            tags=split_list(tags),
            memory_type=(memory_type or "note").strip().lower(),
            importance=importance,
            agent_family=ident.agent_family,
            client_id=ident.client_id,
            pc_id=ident.pc_id,
            session_id=ident.session_id,
            source_files=split_list(source_files),
            references=split_list(references),
            supersedes=[self._resolve_supersedes(s) for s in split_list(supersedes)],
            visibility=vis,
            scope_id=scope_id,
            expires_at=self._expiry(now, ttl_sec, expires_at),
        )
        redactions: list[Redaction] = []
        kept: list[str] = []
        if not allow_secrets:
            from ..core.redact import placeholders, redact_observation  # compiles its rules

            obs, redactions = redact_observation(obs, self.redaction_allowlist)
            kept = placeholders([obs.subject, obs.summary, obs.content])
        if not obs.summary:  # derived after redaction, so it cannot carry a secret back
            obs.summary = derive_summary(obs.content)
        validate_new(obs, self.settings.limits)
        similar = self.find_similar(obs) if check_similar else []
        self.store.add_observation(obs, origin="local")
        ignored = links.ignored_supersedes(self.store.db, obs.observation_id) if obs.supersedes else []
        return SaveResult(obs, scope_label(obs.visibility, obs.scope_id), similar, redactions,
                          ignored_supersedes=ignored, placeholders=kept)

    def _current_project(self, project: str) -> str:
        """A save under a renamed project's old name goes under its current name."""
        if not project:
            return project
        from .projects import current_name

        return current_name(self, project)

    @property
    def redaction_allowlist(self) -> Allowlist:
        if self._allowlist is None:
            from ..core.redact import Allowlist

            self._allowlist = Allowlist.build(self.settings.redaction_allowlist,
                                              self.settings.redaction_allow_patterns)
        return self._allowlist

    def find_similar(self, obs: Observation) -> list[Similar]:
        """Live memories this one may duplicate, best first: those whose
        subject and content overlap it heavily (Jaccard over words and word
        pairs; only memories whose subject shares half its words are
        compared in full), and those that say the same in other words
        (meaning vectors, PARAPHRASE)."""
        title = _words(obs.subject)

        def close_title(subject: str) -> bool:
            theirs = _words(subject)
            union = len(title | theirs)
            return bool(union) and len(title & theirs) / union >= SUBJECT_OVERLAP

        found: dict[str, Similar] = {}
        candidates = similar_candidates(self.store.db, obs.subject, close_title)
        mine = _shingles(f"{obs.subject} {obs.content}") if candidates else set()
        for other in candidates:
            if not self._readable(other) or other.observation_id in obs.supersedes:
                continue
            theirs = _shingles(f"{other.subject} {other.content}")
            union = len(mine | theirs)
            score = len(mine & theirs) / union if union else 0.0
            if score >= NEAR_DUPLICATE:
                found[other.observation_id] = Similar(other.observation_id, other.subject,
                                                      round(score, 2))
        for other, score in self._similar_by_meaning(obs):
            if other.observation_id in obs.supersedes or other.observation_id in found:
                continue
            found[other.observation_id] = Similar(other.observation_id, other.subject,
                                                  round(score, 2))
        return sorted(found.values(), key=lambda s: -s.similarity)

    def _similar_by_meaning(self, obs: Observation) -> list[tuple[Observation, float]]:
        from ..store.search.embedder import loaded

        if not loaded():
            # A one-shot save does not load numpy, the model and every vector
            # (0.2-0.6 s) for a hint; a server has them loaded (ADR 0025).
            return []
        store = self.store
        try:
            store.vectors.sync(store.db)
            near = store.vectors.most_similar(obs.subject, obs.content, 5)
        except StoreError:
            return []  # no model: the word overlap check above still ran
        near = [(seq, score) for seq, score in near if score >= PARAPHRASE]
        if not near:
            return []
        marks = ", ".join(str(int(seq)) for seq, _ in near)
        rows = {r["seq"]: r for r in store.db.execute(
            f"SELECT o.* FROM observations o WHERE o.seq IN ({marks}) "
            f"AND NOT {TOMBSTONED_SQL} AND NOT {SUPERSEDED_SQL}")}
        out = []
        for seq, score in near:
            if seq in rows:
                other = row_to_observation(rows[seq])
                if self._readable(other):
                    out.append((other, score))
        return out

    def _resolve_supersedes(self, text: str) -> str:
        if is_valid_id(text.lower()):
            return text.lower()  # may live on a host we have not heard from yet
        return self.store.resolve_id(text)

    @staticmethod
    def _expiry(now: float, ttl_sec: int | None, expires_at: str | None) -> str:
        if ttl_sec is not None and expires_at:
            raise ValidationError("give either a TTL or expires_at, not both")
        if ttl_sec is not None:
            if isinstance(ttl_sec, bool) or not isinstance(ttl_sec, int) or ttl_sec <= 0:
                raise ValidationError("ttl must be a positive whole number of seconds")
            if ttl_sec > 100 * 365 * 86400:
                raise ValidationError(f"ttl {ttl_sec} is too large (at most 100 years)")
            return format_ts(now + ttl_sec)
        if expires_at:
            when = parse_when(expires_at, now=now)
            if when <= now:
                raise ValidationError(f"expires_at {expires_at!r} is not in the future")
            return format_ts(when)
        return ""

    # --------------------------------------------------------------- read

    def search(self, query: SearchQuery, *, strict: bool = False) -> SearchResult:
        """Search with every input checked first: a filter that cannot mean
        anything is an error, never an unfiltered or empty answer. `strict`
        (what the CLI and MCP ask for) also refuses a query with no word in
        it, which would otherwise list everything as an empty query does."""
        if query.limit <= 0:
            raise ValidationError("limit must be a positive number")
        if strict and query.text.strip() and not any(c.isalnum() for c in query.text):
            raise ValidationError(
                f"query {query.text!r} has no letters or digits to search for: give a word, "
                "or no query at all to list memories"
            )
        if query.since is not None and query.until is not None and query.since > query.until:
            raise ValidationError(
                f"since ({format_ts(query.since)}) is after until ({format_ts(query.until)}): "
                "nothing can match; swap them (since is the older time)"
            )
        if query.pc_id:
            query = replace(query, pc_id=self.resolve_pc_id(query.pc_id))
        for mt in query.memory_types:
            if mt not in MEMORY_TYPES:
                raise ValidationError(
                    f"invalid memory_type {mt!r}: choose one of {', '.join(MEMORY_TYPES)}"
                )
        for tier in query.visibility:
            if tier not in ("mesh", "user", "team", "legacy"):
                raise ValidationError(
                    f"invalid visibility {tier!r}: choose mesh, user, team or legacy"
                )
        from .projects import names_of_project

        if query.project:
            # A renamed project: its memories under every name it has gone by.
            names = names_of_project(self, query.project)
            if len(names) > 1:
                query = replace(query, project=None, projects=names)
        if query.boost_project is None and self.settings.project:
            query = replace(query, boost_project=self.settings.project)
        if query.boost_project is not None:
            others = [n for n in names_of_project(self, query.boost_project)
                      if n != query.boost_project]
            query = replace(query, boost_aliases=list(dict.fromkeys([*query.boost_aliases,
                                                                     *others])))
        from ..store.search.fusion import check_mode, run

        check_mode(query.mode)
        started = time.perf_counter()
        result = run(self.store.db, self.store.vectors, query, self.reader_scope, query.mode)
        latency.record((time.perf_counter() - started) * 1000)
        return result

    def sync_vectors(self) -> None:
        """Load the embedding model and every memory's vector now, embedding
        any memory that has none (a search does this itself when needed)."""
        self.store.vectors.sync(self.store.db)

    def resolve_pc_id(self, text: str) -> str:
        """A host's full pc_id from itself or a unique prefix (displays show 8
        characters), among the hosts this store holds memories from."""
        prefix = text.strip().lower()
        if not prefix:
            raise ValidationError("pc_id must not be empty")
        rows = self.store.db.execute(
            "SELECT DISTINCT pc_id FROM observations WHERE pc_id >= ? AND pc_id < ? LIMIT 3",
            (prefix, prefix + "\U0010ffff"),
        ).fetchall()
        found = [str(r[0]) for r in rows]
        if prefix in found or not found:
            return prefix  # no such host: the filter matches nothing, and says "no matching"
        if len(found) > 1:
            raise AmbiguousIdError(
                f"pc_id prefix {text!r} matches several hosts ({', '.join(f[:12] for f in found)}"
                f"{', ...' if len(found) > 2 else ''}): give more characters"
            )
        return found[0]

    def get(self, id_or_prefix: str, *, include_hidden: bool = False) -> MemoryView:
        oid = self.store.resolve_id(id_or_prefix)
        row = self.store.get_row(oid)
        if row is None:  # purged between resolve and read
            raise NotFoundError(f"no memory with id {id_or_prefix!r}")
        view = self._view(row_to_observation(row))
        if view.observation.visibility in ("user", "team") and not self._readable(view.observation):
            raise NotFoundError(f"no memory with id {id_or_prefix!r}")
        if view.hidden and not include_hidden:
            state = "deleted" if view.tombstone else "superseded" if view.superseded_by else "expired"
            raise NotFoundError(
                f"memory {oid[:12]} is {state}; show it with --include-hidden (MCP: include_hidden)"
            )
        return view

    def _readable(self, obs: Observation) -> bool:
        scope = self.reader_scope
        if obs.visibility == "user":
            return bool(scope.user_id) and obs.scope_id == scope.user_id
        if obs.visibility == "team":
            return obs.scope_id in scope.team_ids
        return True

    def _view(self, obs: Observation) -> MemoryView:
        db, oid = self.store.db, obs.observation_id
        expired = bool(obs.expires_at) and obs.expires_at <= now_wire()
        # Successors the reader may not read (on a hub) are not named.
        others = [i for i in links.ignored_successors(db, oid) if self._readable_id(i)]
        return MemoryView(obs, self.store.tombstone(oid), links.superseded_by(db, oid), expired,
                          links.ignored_supersedes(db, oid), others)

    def _readable_id(self, oid: str) -> bool:
        row = self.store.get_row(oid)
        return row is not None and self._readable(row_to_observation(row))

    def recall(
        self,
        query: str = "",
        *,
        project: str | None = None,
        memory_types: Sequence[str] = (),
        limit: int = 40,
        max_chars: int = 4000,
        count_at_most: int | None = None,
        explain_empty: bool = True,
    ) -> RecallPack:
        """`project` None means the configured default project (project file);
        "" means every project. `count_at_most`: count the memories not shown
        only up to this many (faster on a big store; `omitted` is then a floor).
        `explain_empty` False: no `empty_note` (it counts every project's memories)."""
        from .recall import build_pack

        if project is None:
            project = self.settings.project or None
        result = self.search(
            SearchQuery(text=query, project=project or None, memory_types=list(memory_types),
                        limit=limit, count_at_most=count_at_most), strict=True
        )
        pack = build_pack(result, max_chars=max_chars)
        if not pack.included and explain_empty:
            from .recall import why_empty

            pack.empty_note = why_empty(self, query, project, memory_types)
        return pack

    # ------------------------------------------------------------- delete

    def delete(self, id_or_prefix: str, reason: str = "") -> Tombstone:
        """Tombstone one memory (a logical delete that replicates)."""
        check_text("reason", reason)
        oid = self.store.resolve_id(id_or_prefix)
        existing = self.store.tombstone(oid)
        if existing is not None:
            return existing
        tomb = Tombstone(oid, reason or "deleted", now_wire())
        self.store.add_tombstone(tomb)
        return tomb

    def select_for_delete(
        self,
        *,
        project: str | None = None,
        pc_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Observation]:
        """Live memories a bulk delete would tombstone (at least one filter)."""
        if not any((project, pc_id, since, until)):
            raise ValidationError("bulk delete needs at least one of project, pc_id, since, until")
        q = SearchQuery(
            project=project,
            pc_id=pc_id,
            since=parse_when(since) if since else None,
            until=parse_when(until) if until else None,
            limit=1_000_000,
        )
        return [h.observation for h in self.search(q).hits]

    def delete_many(self, ids: Sequence[str], reason: str = "bulk delete") -> int:
        check_text("reason", reason)
        now = now_wire()
        return self.store.add_tombstones((Tombstone(oid, reason, now) for oid in ids), "local")

    def purge(self, id_or_prefix: str) -> str:
        """Physically delete one memory everywhere on this host; never resurrected."""
        text = id_or_prefix.strip().lower()
        oid = text if is_valid_id(text) else self.store.resolve_id(text)
        if self.store.get_row(oid) is None and self.store.tombstone(oid) is None:
            # Checked before writing: an unknown id must not be recorded as purged.
            raise NotFoundError(f"no memory with id {id_or_prefix!r}")
        if not self.store.purge([oid], "purge"):
            raise NotFoundError(f"no memory with id {id_or_prefix!r}")
        return oid
