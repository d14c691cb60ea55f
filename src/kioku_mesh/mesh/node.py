"""The host's mesh node: a long-running process that replicates the store.

Threads, each with its own store connection:
- zenoh callbacks only enqueue samples or answer queries (never block long);
- the writer validates queued samples and applies them in batches;
- the publisher follows the store's change feed and publishes local writes;
- the syncer runs anti-entropy rounds against hubs (a hub: against everyone),
  at an interval and at once when a peer comes online;
- the status writer refreshes node-status.json for `kioku-mesh status`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zenoh

from ..core.config import Settings
from ..core.identity import load_pc_id
from ..core.keyspace import key_scope
from ..core.messages import msg_scope
from ..store.db import Store
from ..store.messages import purge_expired
from ..store.replication import (
    PUBLISHED_SEQ,
    PeerItems,
    apply_peer_items,
    get_state,
    pending_changes,
    prune_changes,
    set_state,
)
from . import project_sync, protocol
from .antientropy import AntiEntropyPuller
from .config import MeshConfig, zenoh_config_json
from .ingest import Action, Rejected, classify, wildcard_scope
from .listen import ListenError, listen_failure
from .status import STATUS_FILE, write_status
from .storage import matching_records

log = logging.getLogger("kioku_mesh.node")
BLOCK = zenoh.CongestionControl.BLOCK
# Our own presence keys name the host too (the wire's msg/{scope}/presence/... do not).
PRESENCE_PREFIX = "kioku/presence"
EXPIRED_PURGE_S = 60.0


def _refusal_hint(endpoints: list[str], tls: bool, exc: Exception) -> str:
    """Zenoh only says "Unable to connect": tell "nothing listens" from "refused"."""
    answering = [ep for ep in endpoints if _tcp_answers(ep)]
    if not answering:
        return "nothing answers there (hub down, wrong address or port, or a firewall)."
    if tls:
        return ("the hub answers but refused the TLS handshake: our certificate is not signed "
                "by the hub's CA, or the hub's certificate does not name the address we dial "
                "(see `kioku-mesh tls info` on both hosts).")
    return f"the hub answers but the session failed ({str(exc).split(' at ')[0]})."


def _tcp_answers(endpoint: str) -> bool:
    import socket

    _, _, hostport = endpoint.partition("/")
    host, _, port = hostport.split("#")[0].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def scope_key_exprs(scope: str) -> list[str]:
    """The `mem/` key expressions a scope's memories live under."""
    if scope == "mesh":
        return ["mem/mesh/**", "mem/obs/**", "mem/tomb/**"]
    return [f"mem/{scope}/**"]


class Node(AntiEntropyPuller):
    def __init__(self, settings: Settings, cfg: MeshConfig,
                 acl_source: Callable[[], dict[str, Any]] | None = None) -> None:
        cfg.validate()
        self.acl_source = acl_source  # hub with access control: rules, re-read live
        self.settings = settings
        self.cfg = cfg
        self.pc_id = load_pc_id(settings.state_dir)
        self.stop_event = threading.Event()
        self.sync_wakeup = threading.Event()
        self.inbox: queue.Queue[tuple[str, bool, bytes]] = queue.Queue(maxsize=200_000)
        self.stats: Counter[str] = Counter()
        self.peers: dict[str, dict[str, Any]] = {}  # pc_id -> role, online, since, last_sync...
        self.lock = threading.Lock()
        self.session: zenoh.Session | None = None
        self.started = time.time()
        self._threads: list[threading.Thread] = []
        self._query_store: Store | None = None
        self._query_lock = threading.Lock()
        self.presence: dict[str, dict[str, Any]] = {}  # remote sessions online (liveliness)
        self._presence_tokens: dict[str, Any] = {}  # local session key -> token
        # Scopes this node stores and syncs: a hub all of them (None), a spoke
        # the mesh plus its user's and teams' own.
        self.readable: list[str] | None = None if cfg.role == "hub" else settings.readable_scopes()

    # ----------------------------------------------------------- lifecycle

    def _open_store(self) -> Store:
        return Store.open(self.settings.db_path, synchronous=self.settings.synchronous)

    def _open_session(self) -> zenoh.Session | None:
        delay = 0.2
        conf = zenoh.Config.from_json5(zenoh_config_json(self.cfg))
        while not self.stop_event.is_set():
            try:
                return zenoh.open(conf)
            except zenoh.ZError as exc:
                failed = listen_failure(str(exc), self.cfg.listen)
                if failed:  # retrying cannot help, and "cannot connect" would be untrue
                    self._write_status("stopped", error=failed)
                    raise ListenError(failed) from None
                reason = (f"cannot connect to {', '.join(self.cfg.connect)}: "
                          f"{_refusal_hint(self.cfg.connect, self.cfg.uses_tls, exc)}")
                log.warning("%s Retrying.", reason)
                self._write_status("connecting", error=reason)
                self.stop_event.wait(delay)
                delay = min(delay * 2, 5.0)
                conf = zenoh.Config.from_json5(zenoh_config_json(self.cfg))
        return None

    def run(self) -> None:
        """Run until stop() or SIGTERM/SIGINT; closes everything on the way out.

        When the hub's access control changes (team membership), the session
        is reopened with the new rules; the store and the threads carry on."""
        self._query_store = self._open_store()
        self._write_status("starting")
        try:
            while not self.stop_event.is_set():
                if self.acl_source is not None:
                    self.cfg.access_control = self.acl_source()
                session = self._open_session()
                if session is None:
                    break
                self.session = session
                declared = self._declare(session)
                try:
                    if not self._threads:
                        for target in (self._writer_loop, self._publisher_loop,
                                       self._sync_loop, self._status_loop):
                            thread = threading.Thread(target=target, name=target.__name__,
                                                      daemon=True)
                            thread.start()
                            self._threads.append(thread)
                    self._write_status("running")
                    log.info("node %s running as %s", self.pc_id[:8], self.cfg.role)
                    self._serve_until_change()
                finally:
                    for entity in reversed(declared):
                        try:
                            entity.undeclare()
                        except zenoh.ZError:
                            pass
                    session.close()
        finally:
            self.stop_event.set()
            self.sync_wakeup.set()
            for thread in self._threads:
                thread.join(timeout=10)
            self._write_status("stopped")
            self._query_store.close()

    def _serve_until_change(self) -> None:
        last_check = time.monotonic()
        while not self.stop_event.wait(0.5):
            if self.acl_source is None or time.monotonic() - last_check < 2.0:
                continue
            last_check = time.monotonic()
            try:
                fresh = self.acl_source()
            except Exception as exc:  # noqa: BLE001 - a bad edit must not stop the hub
                log.warning("access control not reloaded: %s", exc)
                continue
            if fresh != self.cfg.access_control:
                log.info("access control changed: reopening the session with the new rules")
                return

    def _declare(self, session: zenoh.Session) -> list[Any]:
        """Declarations stay inside what this node may read: with access control
        on, a broader one (`mem/**` from a spoke) is refused whole."""
        declared: list[Any] = []
        mem_exprs = (["mem/**"] if self.readable is None else
                     [e for scope in self.readable for e in scope_key_exprs(scope)])
        sync_exprs = ([f"{protocol.SYNC_PREFIX}/{self.pc_id}/**"] if self.readable is None else
                      [protocol.sync_key(self.pc_id, scope, "*") for scope in self.readable])
        for expr in mem_exprs:
            declared.append(session.declare_subscriber(
                expr, self._on_sample, allowed_origin=zenoh.Locality.REMOTE))
            declared.append(session.declare_queryable(
                expr, self._on_storage_query, complete=True,
                allowed_origin=zenoh.Locality.REMOTE))
        msg_exprs = (["msg/**"] if self.readable is None else
                     [f"msg/{scope}/**" for scope in self.readable])
        for expr in msg_exprs:
            declared.append(session.declare_subscriber(
                expr, self._on_sample, allowed_origin=zenoh.Locality.REMOTE))
            declared.append(session.declare_queryable(
                expr, self._on_storage_query, complete=True,
                allowed_origin=zenoh.Locality.REMOTE))
        for expr in sync_exprs:
            declared.append(session.declare_queryable(expr, self._on_sync_query))
        liveliness = session.liveliness()
        declared.append(liveliness.declare_subscriber(
            f"{protocol.NODE_PREFIX}/**", self._on_liveliness, history=True))
        declared.append(liveliness.declare_subscriber(
            PRESENCE_PREFIX + "/**", self._on_presence, history=True))
        assert self._query_store is not None
        declared += project_sync.declare(session, self._query_store, self._query_lock, self._count)
        self._presence_tokens.clear()  # tokens belonged to the previous session
        declared.append(liveliness.declare_token(
            protocol.liveliness_key(self.cfg.role, self.pc_id)))
        return declared

    def stop(self, *_: object) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    # ------------------------------------------------------------ callbacks

    def _on_sample(self, sample: zenoh.Sample) -> None:
        is_delete = sample.kind == zenoh.SampleKind.DELETE
        try:
            self.inbox.put_nowait((str(sample.key_expr), is_delete, sample.payload.to_bytes()))
        except queue.Full:
            # Anti-entropy will fetch it later; never block zenoh's threads.
            self._count("dropped_inbox_full")

    def _on_liveliness(self, sample: zenoh.Sample) -> None:
        parsed = protocol.parse_liveliness(str(sample.key_expr))
        if parsed is None or parsed[1] == self.pc_id:
            return
        role, pc_id = parsed
        online = sample.kind == zenoh.SampleKind.PUT
        with self.lock:
            peer = self.peers.setdefault(pc_id, {"role": role})
            peer.update(role=role, online=online, changed=time.time())
        if online:
            self.sync_wakeup.set()

    def _on_presence(self, sample: zenoh.Sample) -> None:
        key = str(sample.key_expr)
        parts = key.split("/")
        if len(parts) != 5 or key in self._presence_tokens:  # kioku/presence/pc/agent/session
            return
        with self.lock:
            if sample.kind == zenoh.SampleKind.PUT:
                self.presence[key] = {"pc_id": parts[2], "agent_id": parts[3],
                                      "session_id": parts[4],
                                      "since": time.time()}
            else:
                self.presence.pop(key, None)

    def _sync_presence(self, store: Store) -> None:
        """Declare a liveliness token for each live local agent session (the MCP
        servers running here), and drop those of sessions that ended."""
        from ..core.keyspace import is_valid_chunk
        from ..store.messages import live_sessions

        session = self.session
        if session is None:
            return
        wanted = {f"{PRESENCE_PREFIX}/{self.pc_id}/{s['agent_id']}/{s['session_id']}"
                  for s in live_sessions(store)
                  if is_valid_chunk(s["agent_id"]) and is_valid_chunk(s["session_id"])}
        for key in set(self._presence_tokens) - wanted:
            try:
                self._presence_tokens.pop(key).undeclare()
            except zenoh.ZError:
                pass
        for key in wanted - set(self._presence_tokens):
            try:
                self._presence_tokens[key] = session.liveliness().declare_token(key)
            except zenoh.ZError:
                pass

    def _on_sync_query(self, query: zenoh.Query) -> None:
        params = dict(query.parameters)
        payload = query.payload.to_bytes() if query.payload is not None else None
        try:
            scope, what = protocol.parse_sync_key(str(query.key_expr))
            if self.readable is not None and scope not in self.readable:
                raise ValueError(f"scope {scope} is not held here")
            with self._query_lock:
                assert self._query_store is not None
                body = protocol.answer(self._query_store, scope, what, params, payload,
                                       self.readable, self.cfg.uses_tls)
            query.reply(query.key_expr, body)
        except (ValueError, KeyError) as exc:
            query.reply_err(f"bad sync query: {exc}")

    def _on_storage_query(self, query: zenoh.Query) -> None:
        selector = zenoh.KeyExpr(str(query.key_expr))
        with self._query_lock:
            assert self._query_store is not None
            records = list(matching_records(
                self._query_store, str(selector),
                lambda key: selector.intersects(zenoh.KeyExpr(key))))
        for key, body in records:
            query.reply(key, body)

    # --------------------------------------------------------------- writer

    def _writer_loop(self) -> None:
        store = self._open_store()
        try:
            # On stop, whatever is still queued is dropped rather than drained (a
            # burst can queue 200,000 samples): anti-entropy fetches it next time.
            while not self.stop_event.is_set():
                try:
                    first = self.inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                batch = [first]
                while len(batch) < 2000:
                    try:
                        batch.append(self.inbox.get_nowait())
                    except queue.Empty:
                        break
                items = PeerItems()
                for key, is_delete, payload in batch:
                    try:
                        self._add(items, classify(key, is_delete, payload))
                    except Rejected as exc:
                        self._reject(exc, key)
                try:
                    received = self._apply(store, items)
                except Exception:  # never let one bad batch end ingestion for good
                    log.exception("could not store %d received items; anti-entropy "
                                  "will fetch them again", len(items))
                    self._count("store_errors")
                    continue
                self._count("received", received)
        finally:
            store.close()

    @staticmethod
    def _add(items: PeerItems, action: Action) -> None:
        if action.kind == "obs" and action.observation is not None:
            items.observations.append(action.observation)
        elif action.kind == "tomb" and action.tombstone is not None:
            items.tombstones.append((action.tombstone, action.key))
        elif action.kind == "msg" and action.message is not None:
            items.messages.append(action.message)
        elif action.kind == "ack" and action.ack is not None:
            items.acks.append((action.ack, msg_scope(action.key or "")))
        elif action.kind == "purge":
            items.purges.append(action.id)
            scope = key_scope(action.key) or wildcard_scope(action.key)
            if scope:
                items.purge_scopes[action.id] = scope

    def _apply(self, store: Store, items: PeerItems) -> int:
        """apply_peer_items; returns how many were stored, and counts the deletes
        refused for naming an id held in another scope."""
        counts = apply_peer_items(store, items)
        refused = counts.pop("scope_mismatch", 0)
        if refused:
            self._count("rejected.scope_mismatch", refused)
            log.warning("refused %d deletes naming a memory of another scope", refused)
        return sum(counts.values())

    def _reject(self, exc: Rejected, key: str) -> None:
        self._count(f"rejected.{exc.reason}")
        total = sum(v for k, v in self.stats.items() if k.startswith("rejected."))
        if total <= 20 or total % 100 == 0:
            log.warning("rejected a sample on %s: %s (%d rejected so far)", key[:120], exc, total)

    def _count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] += n

    # ------------------------------------------------------------ publisher

    def _publisher_loop(self) -> None:
        store = self._open_store()
        assert self.session is not None
        publish_from = int(get_state(store, PUBLISHED_SEQ, "0") or 0)
        seen_version = None
        try:
            while not self.stop_event.is_set():
                version = store.db.execute("PRAGMA data_version").fetchone()[0]
                if version == seen_version:
                    self.stop_event.wait(self.cfg.publish_poll_s)
                    continue
                changes, last = pending_changes(store, publish_from, 1000)
                try:
                    for change in changes:
                        self._publish(store, change)
                except zenoh.ZError:  # session being reopened: publish again shortly
                    self.stop_event.wait(0.2)
                    continue
                if last > publish_from:
                    publish_from = last
                    set_state(store, {PUBLISHED_SEQ: str(last)})
                    prune_changes(store, last)
                    continue  # there may be more: look again before sleeping
                seen_version = version
        finally:
            store.close()

    def _publish(self, store: Store, change: Any) -> None:
        from ..store.messages import ack_wire, message_wire
        from ..store.replication import observation_wire, tombstone_wire

        assert self.session is not None
        if change.kind == "obs":
            record = observation_wire(store, change.id)
        elif change.kind == "tomb":
            record = tombstone_wire(store, change.id)
        elif change.kind == "msg":
            record = message_wire(store, change.id)
        elif change.kind == "ack":
            msg_id, _, session = change.id.partition(":")
            record = ack_wire(store, msg_id, session)
        else:
            if change.key:
                self.session.delete(change.key, congestion_control=BLOCK)
                self.session.delete(change.key.replace("/obs/", "/tomb/", 1),
                                    congestion_control=BLOCK)
            self._count("published")
            return
        if record is not None:  # gone meanwhile: a later purge change covers it
            self.session.put(record[0], record[1].encode(), congestion_control=BLOCK)
            self._count("published")

    # --------------------------------------------------------------- syncer

    def _sync_targets(self) -> list[str]:
        with self.lock:
            return [pc for pc, p in self.peers.items() if p.get("online")
                    and (self.cfg.role == "hub" or p.get("role") == "hub")]

    def _sync_loop(self) -> None:
        store = self._open_store()
        last_purge = 0.0
        try:
            while not self.stop_event.is_set():
                self.sync_wakeup.clear()
                if time.monotonic() - last_purge > EXPIRED_PURGE_S:
                    last_purge = time.monotonic()
                    self._count("expired_messages_purged", purge_expired(store))
                for pc_id in self._sync_targets():
                    if self.stop_event.is_set():
                        break
                    self._sync_one(store, pc_id)
                self.sync_wakeup.wait(self.cfg.sync_interval_s)
        finally:
            store.close()

    def _sync_one(self, store: Store, pc_id: str) -> None:
        started = time.time()
        try:
            fetched, purged, sent = self.pull_from(store, pc_id)
            assert self.session is not None
            fetched += project_sync.pull(self.session, store, self._count)
            result = {"last_sync": time.time(), "fetched": fetched, "purged": purged,
                      "bytes": sent, "seconds": round(time.time() - started, 3), "error": None}
            self._count("sync_rounds")
        except (zenoh.ZError, TimeoutError, ValueError) as exc:
            result = {"last_sync_error": time.time(), "error": str(exc)[:200]}
            log.warning("sync with %s failed: %s", pc_id[:8], exc)
        with self.lock:
            self.peers.setdefault(pc_id, {}).update(result)
        self._write_status("running")  # at once: `status` right after a catch-up must show it

    # --------------------------------------------------------------- status

    def _status_loop(self) -> None:
        store = self._open_store()
        try:
            while not self.stop_event.wait(1.0):
                try:
                    self._sync_presence(store)
                except Exception as exc:  # noqa: BLE001 - presence must not stop the node
                    log.warning("presence not updated: %s", exc)
                session = self.session
                if session is not None:
                    try:
                        project_sync.publish_pending(session, store)
                    except zenoh.ZError as exc:
                        log.warning("project renames not published yet: %s", exc)
                self._write_status("running")
        finally:
            store.close()

    def _write_status(self, state: str, error: str | None = None) -> None:
        with self.lock:
            data = {
                "state": state,
                "error": error,
                "pid": os.getpid(),
                "role": self.cfg.role,
                "pc_id": self.pc_id,
                "listen": self.cfg.listen,
                "connect": self.cfg.connect,
                "started": self.started,
                "updated": time.time(),
                "peers": {pc: dict(p) for pc, p in self.peers.items()},
                "presence": sorted(self.presence.values(), key=lambda p: p["since"]),
                "stats": dict(self.stats),
            }
        write_status(Path(self.settings.state_dir) / STATUS_FILE, data)
