"""Deterministic synthetic corpus of coding-agent memories, written as JSONL.

Every record is a wire-format observation, the shape `kioku-mesh import`
reads. The same (count, seed) always gives byte-identical output.

Text is drawn from a vocabulary of about 3,000 words: some 500 real English
and software words plus invented technical-looking words, picked with a
Zipf-like skew so a few words are very common and most are rare, as in real
notes. About 5% of memories are written in Japanese (with English
identifiers mixed in). Content is 200-1500 bytes; there are 20 projects,
0-4 tags, importance 1-5 (2 most common) and timestamps spread over the
year before a fixed anchor date. A few memories supersede an earlier one and
about 1% get a tombstone line, so the hidden-row filters have work to do.

Run as a script to write a file:  python bench/corpus.py 10000 out.jsonl
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

GENERATOR_VERSION = 1
ANCHOR = datetime(2026, 5, 1, tzinfo=UTC).timestamp()
YEAR_S = 365 * 86400

REAL_WORDS = """
access account action adapter address agent alert algorithm alias allocation api
append application archive argument array assert async attribute audit auth
authentication authorization backend backoff backup balance batch benchmark binary
bind blob boolean boundary branch browser buffer bug build bundle byte cache
callback canary capacity cascade certificate channel checkpoint checksum child
chunk cipher class cleanup cli client clock cluster column command commit
compile compiler component compression concurrency config configuration conflict
connection consensus constraint consumer container context contract cookie
coroutine counter cpu crash credential cron cursor daemon dashboard data
database deadlock debug decode default dependency deploy deployment deprecation
descriptor deserialize diff directory disk dispatch dns docker document domain
download driver duplicate duration edge element encoding encryption endpoint
engine entry enum environment error event eviction exception executor expiry
export expression extension failover failure fallback feature fetch field file
filter fixture flag flaky flush fork format fragment frame framework function
gateway generator git github gpu grammar graph grpc guard handler handshake hash
header heap heartbeat helper hook host hotfix http https identifier image import
index inference infra inheritance init injection input insert instance integer
integration interface interrupt invalidation iterator job join json kafka kernel
key keyspace kubernetes label lambda latency layer layout lease library lifecycle
limit linter listener load loader lock log logger logging lookup loop manifest
map mapping marshal match memory merge message metadata method metric middleware
migration mock model module monitor mount mutex namespace network node null
object observer offset operator optimizer option order orm output overflow
package padding page pagination panic parameter parent parser partition patch
path payload peer performance permission pipeline platform plugin pointer policy
poll pool port postgres prefix process producer profile profiler projection
promise prompt property protocol proxy publisher pull push query queue quota
race range rate reader rebase record recovery redis reducer refactor reference
regex region registry regression release reload replica replication repository
request resolver resource response restart result retry revert review rollback
rollout root route router row runtime runner sandbox scaling scanner schedule
scheduler schema scope script sdk search secret security seed segment selector
semaphore sequence serializer server service session shard shell signal signature
snapshot socket sort source span sql sqlite stack staging state statement stream
string struct subscriber subprocess suite swap symbol sync syntax table tag task
template tenant terraform test thread threshold throttle ticket timeout timer
timestamp token tokenizer topic trace tracing transaction transform trigger
trigram tuple type typescript unicode upload upgrade uri user utf8 validation
validator value variable vector vendor version view volume vulnerability wal
warning watcher webhook websocket worker workflow workspace wrapper write yaml
zenoh zone python rust golang react nodejs pytest mypy ruff fastapi django flask
nginx envoy grafana prometheus sentry celery pandas numpy webpack vite eslint
""".split()

FILLER = """
the a an to of in for on with when after before because so and but it this
that we was is are be not now then also only still again all every each
""".split()

VERBS = """
fails breaks hangs leaks crashes times-out drops duplicates corrupts blocks
stalls retries overflows truncates deadlocks rejects ignores skips
""".split()

PROJECTS = [
    "kioku-mesh", "billing-api", "web-frontend", "mobile-app", "data-pipeline",
    "auth-service", "infra/terraform", "ml-training", "search-indexer", "docs-site",
    "payments", "notifications", "admin-console", "etl-jobs", "cli-tools",
    "gateway", "analytics", "chat-bot", "sdk-python", "platform/k8s",
]

TYPES = ["decision", "bug", "config", "pattern", "note", "summary"]
TYPE_WEIGHTS = [25, 25, 15, 10, 20, 5]

JA_WORDS = """
設定 接続 データベース 認証 移行 障害 原因 修正 変更 確認 検索 索引 性能 遅延
同期 非同期 並行処理 排他制御 キャッシュ 再試行 タイムアウト 文字化け 文字コード
環境変数 本番環境 検証環境 依存関係 脆弱性 例外処理 ログ出力 監視 通知 権限
暗号化 証明書 負荷分散 冗長化 バックアップ 復旧 容量 上限 閾値 分割 結合
日本語 全文検索 形態素解析 単語 部分一致 前方一致 記憶 共有 端末 利用者
""".split()

JA_TEMPLATES = [
    "{a}の{b}が原因で{c}が失敗していた。",
    "{a}を{b}に変更した。{c}の問題を避けるため。",
    "{a}では{b}を使うことに決めた。{c}より扱いやすい。",
    "{a}の{b}を確認したところ、{c}に問題があった。",
    "本番環境で{a}が発生。{b}の{c}を見直す必要がある。",
    "{a}と{b}の組み合わせで{c}が遅くなる。",
    "{a}の設定値は{b}に合わせて{c}とする。",
]

SUBJECT_TEMPLATES = {
    "decision": ["Use {a} for {b}", "Decided: {a} over {b}", "Adopt {a} {b} in {c}",
                 "Switch {a} to {b}", "Keep {a} {b} instead of {c}"],
    "bug": ["{a} {v} when {b} {c}", "Bug: {a} {b} {v}", "Root cause of {a} {b} failure",
            "Fix {a} {v} under {b} load", "{a} {b} {v} after {c} upgrade"],
    "config": ["Set {a} {b} to {n}", "Config: {a} {b} {c}", "Raise {a} {b} limit to {n}",
               "{a} {b} needs {c} enabled"],
    "pattern": ["Pattern: {a} {b} via {c}", "How to {a} the {b}", "Prefer {a} {b} for {c}"],
    "note": ["Note on {a} {b}", "{a} {b} {c} details", "Where {a} {b} lives"],
    "summary": ["Session summary: {a} {b} and {c}", "Weekly summary: {a} {b}"],
}

SENTENCES = [
    "The {a} {b} {v} when the {c} {d} is under load.",
    "We decided to use {a} for {b} because {c} was too slow.",
    "Root cause: {a} did not release the {b} before {c} returned.",
    "Set {a}_{b} to {n} in the {c} config; the default of {m} caused {d} errors.",
    "{A} {b} is now handled by the {c} {d} instead of the {e}.",
    "After the {a} {b} change, {c} latency dropped from {n} ms to {m} ms.",
    "Do not call {a} from inside the {b} {c}: it {v} on {d}.",
    "See {path} for the {a} {b} and {path2} for the {c} tests.",
    "The {a}() helper in {path} now retries {n} times with {b} backoff.",
    "Reproduce with `make {a}` then run the {b} {c} suite twice.",
    "{Err} raised by {a}.{b} when {c} is empty.",
    "Migration {n} adds a {a} column to the {b} table and backfills {c}.",
    "Reviewers asked for a {a} {b} test around the {c} {d} path.",
    "This only happens with {a} {b} enabled and {c} set to {m}.",
    "Pinned {a} to {n}.{m} until the {b} {c} regression is fixed upstream.",
]

ERRORS = ["TimeoutError", "KeyError", "ValueError", "ConnectionResetError", "PermissionError",
          "OperationalError", "IntegrityError", "UnicodeDecodeError", "RecursionError",
          "BrokenPipeError", "NullPointerException", "SIGSEGV", "OOMKilled", "ECONNREFUSED"]

SYLLABLES = ("ka ri to mo na se lu vi pe do ra ne xo zu bi qua tor lin mar gen pol"
             " sta ver dex nol fi ga hu jo ke ly").split()
SUFFIXES = ["", "", "", "er", "ing", "ctl", "db", "d", "ify", "ix", "io", "ize"]


def _synthetic_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        word += rng.choice(SUFFIXES)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


class Vocabulary:
    """~3,000 words with Zipf-like weights (rank r has weight 1/r**0.9)."""

    def __init__(self, rng: random.Random, size: int = 3000) -> None:
        real = list(dict.fromkeys(REAL_WORDS))
        rng.shuffle(real)
        taken = set(real)
        self.words = real + _synthetic_words(rng, size - len(real), taken)
        # Interleave so both kinds reach the frequent ranks.
        rng.shuffle(self.words)
        weights = [1.0 / (rank**0.9) for rank in range(1, len(self.words) + 1)]
        self.cum = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cum, rng.random() * self.cum[-1])]

    def rank(self, word: str) -> int:
        return self.words.index(word)


def _fill(rng: random.Random, vocab: Vocabulary, template: str, topic: list[str]) -> str:
    def word() -> str:
        # Half the words come from the memory's topic, so terms co-occur.
        return rng.choice(topic) if rng.random() < 0.5 else vocab.pick(rng)

    a = word()
    values = {
        "a": a, "A": a.capitalize(), "b": word(), "c": word(), "d": word(), "e": word(),
        "v": rng.choice(VERBS), "n": str(rng.randint(2, 5000)), "m": str(rng.randint(1, 99)),
        "Err": rng.choice(ERRORS),
        "path": f"src/{word()}/{word()}.py", "path2": f"tests/test_{word()}.py",
    }
    return template.format(**values)


def _japanese(rng: random.Random, vocab: Vocabulary) -> tuple[str, str]:
    def sentence() -> str:
        t = rng.choice(JA_TEMPLATES)
        picks = [rng.choice(JA_WORDS) if rng.random() < 0.8 else vocab.pick(rng) for _ in range(3)]
        return t.format(a=picks[0], b=picks[1], c=picks[2])

    subject = sentence().rstrip("。")[:60]
    target = rng.randint(200, 1500)
    parts: list[str] = []
    size = 0
    while size < target:
        s = sentence()
        parts.append(s)
        size += len(s.encode("utf-8"))
    return subject, _clip("".join(parts), target)


def _clip(text: str, limit: int) -> str:
    """Cut to at most `limit` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(count: int, seed: int = 42):  # -> Iterator[dict]
    """Yield `count` observations, plus tombstone records for about 1% of them."""
    rng = random.Random(seed)
    vocab = Vocabulary(rng)
    pcs = [_id(rng) for _ in range(4)]
    agents = [("claude", "claude-code"), ("codex", "codex-cli"), ("gemini", "gemini-cli"),
              ("cli", "dev@laptop")]
    recent: list[str] = []
    for i in range(count):
        oid = _id(rng)
        project = PROJECTS[min(int(rng.expovariate(0.18)), len(PROJECTS) - 1)]
        mtype = rng.choices(TYPES, TYPE_WEIGHTS)[0]
        topic = [vocab.pick(rng) for _ in range(4)]
        if rng.random() < 0.05:
            subject, content = _japanese(rng, vocab)
            summary = content.split("。")[0] + "。"
        else:
            subject = _fill(rng, vocab, rng.choice(SUBJECT_TEMPLATES[mtype]), topic)
            target = rng.randint(200, 1500)
            sentences: list[str] = []
            size = 0
            while size < target:
                s = _fill(rng, vocab, rng.choice(SENTENCES), topic)
                sentences.append(s)
                size += len(s) + 1
            content = _clip(" ".join(sentences), target).rsplit(" ", 1)[0] + "."
            summary = sentences[0]
        family, client = rng.choice(agents)
        obs = {
            "observation_id": oid,
            "created_at": _ts(ANCHOR - rng.random() * YEAR_S),
            "content": content,
            "subject": subject,
            "summary": summary,
            "project": project,
            "tags": sorted({vocab.pick(rng) for _ in range(rng.choice([0, 1, 2, 2, 3, 4]))}),
            "memory_type": mtype,
            "importance": rng.choices([1, 2, 3, 4, 5], [10, 45, 25, 15, 5])[0],
            "agent_family": family,
            "client_id": client,
            "pc_id": rng.choice(pcs),
            "session_id": f"s{i // 25:06d}",
            "source_files": [f"src/{topic[0]}/{topic[1]}.py"] if rng.random() < 0.4 else [],
            "references": [f"#{rng.randint(1, 900)}"] if rng.random() < 0.2 else [],
            "supersedes": [rng.choice(recent)] if recent and rng.random() < 0.02 else [],
            "visibility": "mesh",
            "scope_id": "",
            "expires_at": "",
        }
        yield obs
        recent.append(oid)
        if len(recent) > 200:
            recent.pop(0)
        if rng.random() < 0.01:
            yield {"observation_id": oid, "reason": "obsolete",
                   "deleted_at": _ts(ANCHOR - rng.random() * 86400)}


def write_jsonl(path: Path, count: int, seed: int = 42) -> Path:
    """Write the corpus (atomically) unless an identical one is already there."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for record in generate(count, seed):
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    tmp.replace(path)
    return path


def corpus_path(root: Path, count: int, seed: int = 42) -> Path:
    return root / f"corpus-v{GENERATOR_VERSION}-n{count}-s{seed}.jsonl"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python bench/corpus.py COUNT OUT.jsonl", file=sys.stderr)
        return 2
    write_jsonl(Path(argv[1]), int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
