"""Secret redaction matching: the helpers and finders the rule table in core.redact uses.

Pure and without I/O. `redact(text)` returns the text with every credential
replaced by ``[REDACTED:<kind>]`` and the findings (kind and position, never
the secret). `redact_observation(obs)` does that for the free-text fields of an
Observation (subject, summary, content, tags, source_files, references) and
counts the findings per kind and field. Memory.save calls it unless the caller
passes allow_secrets=True; an `Allowlist` (exact strings, regexes) exempts
known-harmless values. ADR 0006 says why these are our own rules and not a
detection library; docs/security.md has the corpus results.

The rule set is `RULES` in core.redact: each rule has a kind, a regex and notes. Rules
run in that order on the original text; where two findings overlap the earlier
rule wins, so a specific kind (``github_token``) beats a generic one
(``token``) for the same characters. Only the secret part of a match is
replaced: ``postgres://app:[REDACTED:connection_string]@db:5432/app`` keeps
the user, host and database, which are the useful part of the memory.

Not redacted (to keep false positives low):

- placeholders (`is_placeholder`): values shorter than 3 characters,
  ``<your-password>``, ``${VAR}``, ``$VAR``, ``%VAR%``, ``{{ var }}``,
  ``{var}``, ``...``; masks (one repeated character, runs of 4+ of
  ``x X * # •`` or 6+ of ``. 0``: ``****``, ``ghp_xxxx...``); values
  containing ``example``, ``changeme``, ``placeholder``, ``redacted``,
  ``your_``/``your-`` (so AWS's documentation keys ending in ``EXAMPLE``);
  our own ``[REDACTED:...]`` markers (redacting twice changes nothing); and
  the words in `PLACEHOLDER_WORDS` (``changeme``, ``password``, ``secret``,
  ``test``, ``dummy``, ``none``, ``str``, ...). So ``password=changeme`` and
  ``postgres://user:password@localhost`` stay, ``postgres://user:pass@host``
  does not;
- code, not values: ``password = get_password()``, ``token = args.token``,
  ``password=request.form["password"]``, ``api_key: Optional[str]``,
  ``password: str``, ``password=user_password`` (an identifier that itself
  names a secret), ``password = value`` (a digit-free identifier after `` = ``
  with spaces, or before ``)`` or ``,``), and a value that spells out its key
  (``client_secret="my-client-secret"``);
- keys that describe a secret rather than hold it: ``max_tokens``,
  ``token_type``, ``password_min_length``, ``secret_name``, ``page_token``,
  ``password_hash``, ``password_encryption`` (`_META_WORDS`, `_HANDLING_WORDS`);
- prose: ``the password is stored in the vault`` (no assignment), and an
  unquoted ``key: value`` followed by more words on the same line
  (``Token: expired after an hour``) unless the value mixes letters and digits;
- hex strings and UUIDs (git SHAs, SHA-256 digests, ids) outside a secret
  assignment (``api_key=<hex>`` is still redacted as ``api_key``);
- base64 of images (``data:image/png;base64,...``, or a value starting with a
  PNG, JPEG, GIF, WebP, SVG or PDF magic) and base64 of readable text;
- public material: ``-----BEGIN PUBLIC KEY-----``, certificates, ssh public
  keys, Stripe publishable keys (``pk_live_``).

High-entropy rule (``high_entropy``): in an assignment (``NAME=value``,
``name: value``, ``"name": "value"``) whose name is not about ids, hashes or
versions (sha, commit, integrity, build, ...), a value of 20 to 200 characters
of ``[A-Za-z0-9+/_.~=-]`` that

- has a Shannon entropy of at least `ENTROPY_THRESHOLD` = 3.5 bits per
  character (a random 20-character base62 string has 3.65 or more in 99% of
  cases; the maximum for 20 characters is log2(20) = 4.32);
- mixes letters and digits, or has two or more capitals inside it;
- changes character class (lower, upper, digit, other) between at least 30% of
  adjacent characters (random base62: 35% or more in 99% of cases);
- has letter/digit runs of mean length under 3.5 (random: about 1.9;
  ``TokenRefreshHandlerFactoryV2``: 4.7), is not snake_case;
- is not hex, a UUID, a dotted name, a path or encoded text.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    pass

ENTROPY_THRESHOLD = 3.5  # bits per character, for the high_entropy rule
ENTROPY_MIN_LEN = 20
ENTROPY_MAX_LEN = 200
CLASS_SWITCH_MIN = 0.3
WORD_LEN_MAX = 3.5  # mean length of the letter/digit runs: ~1.9 in random strings, 4+ in names
MARKER = "[REDACTED:{kind}]"
# Fields of an Observation that are scanned, in report order.
SCANNED_FIELDS = ("subject", "summary", "content", "tags", "source_files", "references")

PLACEHOLDER_WORDS = frozenset("""
changeme change_me change-me changeit password passwd secret token apikey api_key
api-key test testing dummy fake sample example placeholder redacted hidden masked
omitted removed none null nil undefined unset empty todo tbd n/a na foo bar baz foobar
str string bytes int bool boolean any object text char varchar number secretstr optional
required true false yes no env inherit mypassword yourpassword your_password
your-password mysecret yoursecret mytoken yourtoken xxx
""".split())
_PLACEHOLDER_PARTS = ("example", "changeme", "placeholder", "your_", "your-", "redacted")
_MASK_RUN = re.compile(r"([xX*#•])\1{3,}|([.0])\2{5,}")
_TEMPLATE = re.compile(
    r"""^(?:<[^<>]*>|\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|%[A-Za-z_][A-Za-z0-9_]*%"""
    r"""|\{\{.*\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_]+\)s|\.\.\.|…)$"""
)
_CODE_REF = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+$")
_HEX = re.compile(r"^(?:0x)?[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_IMAGE_MAGIC = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR", "PHN2Zy", "JVBERi", "Qk0", "AAABAA")


def is_placeholder(value: str) -> bool:
    """True for values that stand for a secret rather than being one."""
    v = value.strip().strip("\"'`")
    if len(v) < 3:
        return True
    low = v.lower()
    if low in PLACEHOLDER_WORDS or low.startswith("[redacted"):
        return True
    if any(part in low for part in _PLACEHOLDER_PARTS):
        return True
    if len(set(v)) == 1 or _MASK_RUN.search(v):
        return True
    if _TEMPLATE.match(v) or "${" in v or "{{" in v:
        return True
    return v.startswith("<") and v.endswith(">")


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _char_class(c: str) -> int:
    if c.islower():
        return 0
    if c.isupper():
        return 1
    if c.isdigit():
        return 2
    return 3


def _looks_random(value: str) -> bool:
    """Letters mixed with digits, or two or more capitals inside a word, as
    generated tokens have and words (even Capitalized ones) lack."""
    has_letter = any(c.isalpha() for c in value)
    if has_letter and any(c.isdigit() for c in value):
        return True
    inner_upper = sum(1 for a, c in zip(value, value[1:], strict=False) if c.isupper() and a.isalpha())
    return inner_upper >= 2 and any(c.islower() for c in value)


def _class_switch_ratio(value: str) -> float:
    if len(value) < 2:
        return 0.0
    classes = [_char_class(c) for c in value]
    switches = sum(1 for a, b in zip(classes, classes[1:], strict=False) if a != b)
    return switches / (len(value) - 1)


# ----------------------------------------------------------------- rules


# NamedTuples and plain classes rather than dataclasses: a frozen dataclass costs
# ~0.5 ms to define, and this module is imported by every save.


class Candidate(NamedTuple):
    """One possible finding: the span to replace and the whole match around it."""

    kind: str
    start: int
    end: int
    context_start: int
    context_end: int


Check = Callable[[str, "re.Match[str]"], bool]
class Finding(NamedTuple):
    """A redacted secret: its kind and where it was in the original text."""

    kind: str
    start: int
    end: int


Spans = Sequence[Finding]


def _overlaps(spans: Spans, start: int, end: int) -> bool:
    return any(start < f.end and f.start < end for f in spans)


class Rule:
    """A detection rule. `pattern` is the documented regex; `group` is the part
    replaced (0: the whole match); `check(value, match)` may veto a match by
    returning False (the default vetoes placeholders). Rules whose logic does
    not fit one regex give a `finder`, and then `pattern` only documents it.
    A rule is skipped when none of its lowercase `triggers` is in the text:
    only rules whose regex cannot start with a literal have them, since a
    substring test costs as much as a literal-prefixed regex scan.
    In the table below, a pattern with boundary=True reads as if it began with \b:
    the match must not follow a letter, digit or _. That check is done by hand
    because a leading \b costs the regex engine its literal-prefix scan (~40x)."""

    __slots__ = ("kind", "pattern", "notes", "group", "check", "finder", "triggers", "boundary",
                 "compiled")

    def __init__(self, kind: str, pattern: str, notes: str, *, group: int | str = 0,
                 check: Check | None = None,
                 finder: Callable[[Rule, str, str, Spans], Iterator[Candidate]] | None = None,
                 triggers: tuple[str, ...] = (), boundary: bool = False) -> None:
        self.kind = kind
        self.pattern = pattern
        self.notes = notes
        self.group = group
        self.check = check
        self.finder = finder
        self.triggers = triggers
        self.boundary = boundary
        self.compiled = None if finder else re.compile(pattern)

    def __repr__(self) -> str:
        return f"Rule({self.kind!r}, {self.pattern!r})"

    def find(self, text: str, low: str | None = None, taken: Spans = ()) -> Iterator[Candidate]:
        """Candidates in `text` outside the `taken` spans (not checked: they
        lose anyway); `low` is text.lower() when the caller has it."""
        if self.finder is not None:
            if low is None or len(low) != len(text):  # lower() changed the length (e.g. İ)
                low = "".join(c.lower()[:1] for c in text)
            yield from self.finder(self, text, low, taken)
            return
        assert self.compiled is not None
        for m in self.compiled.finditer(text):
            value = m.group(self.group)
            if value is None:
                continue
            if self.boundary and m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_"):
                continue
            if taken and _overlaps(taken, m.start(self.group), m.end(self.group)):
                continue
            ok = self.check(value, m) if self.check else not is_placeholder(value)
            if ok:
                yield Candidate(self.kind, m.start(self.group), m.end(self.group), m.start(), m.end())


def _random_token(value: str, m: re.Match[str]) -> bool:
    return not is_placeholder(value) and _looks_random(value)


def _always(value: str, m: re.Match[str]) -> bool:
    return True  # a private key block is never a placeholder, even a truncated one


_DB_SCHEMES = frozenset(
    "postgres postgresql mysql mariadb mongodb mongodb+srv redis rediss amqp amqps mssql sqlserver "
    "oracle cockroachdb clickhouse nats kafka".split()
)
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _url_scheme(m: re.Match[str]) -> str:
    """The scheme before the `://` a URL rule matched (rules start at `://` for speed)."""
    text, i = m.string, m.start()
    j = i
    while j > 0 and i - j < 32 and text[j - 1] in _SCHEME_CHARS:
        j -= 1
    return text[j:i].lower()


def _db_url(value: str, m: re.Match[str]) -> bool:
    scheme = _url_scheme(m)
    if scheme not in _DB_SCHEMES and scheme.split("+")[0] not in _DB_SCHEMES:
        return False
    return not is_placeholder(value)


def _any_url(value: str, m: re.Match[str]) -> bool:
    scheme = _url_scheme(m)
    return bool(scheme) and scheme[0].isalpha() and not is_placeholder(value)


_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "apikey", "negotiate"})


def _auth_check(value: str, m: re.Match[str]) -> bool:
    if len(value) < 8 or value.lower() in _AUTH_SCHEMES or is_placeholder(value):
        return False
    # Without a scheme (`Authorization: Unauthenticated requests fail`) ask for a random look.
    return bool(m.group("scheme")) or _looks_random(value)


# --- assignments: `password=...`, `"api_key": "..."`, `--token=...`, `secret: ...`

# Searched in the lowercased text (case-insensitive matching is ~9x slower).
_SECRET_KEYWORD = re.compile(
    r"pass(?:wo?r?d|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|auth[_-]?key|credential"
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]*")
_KEY_CHARSET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_WORD_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "pwd", "secret", "token", "apikey")
_PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "pwd", "passphrase", "passwort"})
_SECRET_WORDS = _PASSWORD_WORDS | {"apikey", "accesskey", "authkey", "token", "secret", "secretkey",
                                   "privatekey", "credential", "credentials"}
# A key with one of these words describes a secret (max_tokens, token_type,
# password_min_length, secret_name, page_token) rather than holding one.
_META_WORDS = frozenset("""
type types len length size count max min num limit limits url uri endpoint file path dir
name names id ids hash hashed digest policy expiry expires expiration expire ttl lifetime
header prefix suffix field env var ref format manager less public pub rotation rotate strength
reset hint label placeholder regex pattern required enabled enable disabled validator
version kind mode source provider cache usage budget rate encoding counter index page cursor
next continuation sync location arn input prompt column param option flag method storage
stdin display visible show mask masked error errors valid validity age mgr request response
handler loader
""".split())
# ... and, for the assignment rule only, words naming how a secret is handled
# (password_encryption = scram-sha-256); a random ENCRYPTION_SEED=... is still high_entropy.
_HANDLING_WORDS = frozenset("encryption algorithm algo scheme cipher hasher hashers hashing "
                            "complexity".split())
_TYPE_HINT = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASSIGN_VALUE = re.compile(
    r"""["']?[ \t]*(?P<op>:=|=>|=(?!=)|:(?![:/]))[ \t]*(?:"""
    r'''"(?P<dq>(?:[^"\\\n]|\\.){1,300})"|'''
    r"""'(?P<sq>[^'\n]{1,300})'|"""
    r"""(?P<bare>[^\s"'`,;<>(){}\[\]\x00-\x1f\x7f]{1,300}))"""
)
_FLAG_VALUE = re.compile(r"""[ \t]+(?P<q>["']?)(?P<bare>[^\s"'`]{1,300})(?P=q)""")


def key_words(key: str) -> list[str]:
    """`AWS_SECRET_ACCESS_KEY` -> [aws, secret, access, key]; `clientSecret` -> [client, secret]."""
    return [w.lower() for w in _WORD_SPLIT.findall(key)]


def _names_secret(words: list[str]) -> bool:
    joined = set(words) | {a + b for a, b in zip(words, words[1:], strict=False)}
    joined |= {s for w in words for s in _SECRET_SUFFIXES if w.endswith(s)}
    return bool(joined & _SECRET_WORDS)


def secret_key_kind(key: str) -> str | None:
    """The kind of secret a key names (password, api_key, token, secret), or
    None when it names none or only describes one (`max_tokens`, `token_type`)."""
    words = key_words(key)
    if not words or any(w in _META_WORDS or w in _HANDLING_WORDS for w in words):
        return None
    joined = set(words) | {a + b for a, b in zip(words, words[1:], strict=False)}
    joined |= {s for w in words for s in _SECRET_SUFFIXES if w.endswith(s)}  # PGPASSWORD, GHTOKEN
    if joined & _PASSWORD_WORDS:
        return "password"
    if joined & {"apikey", "accesskey", "authkey"}:
        return "api_key"
    if "token" in joined:
        return "token"
    if joined & {"secret", "secretkey", "privatekey", "credential", "credentials"}:
        return "secret"
    return None


def _value_ok(value: str, *, quoted: bool, key: str, op: str, text: str, start_op: int,
              end: int) -> bool:
    """Is this assigned value a secret rather than a placeholder, code or prose?"""
    if len(value) < 4 or is_placeholder(value):
        return False
    words = key_words(value)
    kwords = key_words(key)
    if value.lower() == key.lower() or value.lower() in kwords:
        return False  # password=password
    if words and (kwords[-len(words):] == words or set(kwords) <= set(words)):
        return False  # CHALLENGE_PASSWORD: "challengePassword", client_secret="my-client-secret"
    if quoted:
        return True
    after = text[end:end + 1]
    if after in ("(", "["):  # a call or a subscript: code
        return False
    if _CODE_REF.match(value) or value.startswith(("/", "~/", "./", "../", "$", "%", "&", "*")):
        return False
    if _IDENT.match(value):
        if _names_secret(words):
            return False  # password=user_password: a variable, not a value
        spaced = op != ":" and text[start_op - 1:start_op] in (" ", "\t")
        if not any(c.isdigit() for c in value) and (spaced or after in (")", ",")):
            return False  # `password = value`, `f(password=auth)`: code, not an env file
    if op == ":":
        if _TYPE_HINT.match(value) and (not any(c.isdigit() for c in value)
                                        or text[end:end + 2].strip()[:1] in (",", ")", "=", "]")):
            return False  # api_key: SecretStr, `private_key: PKCS7Types,`
        nl = text.find("\n", end)
        rest = text[end:nl if nl >= 0 else len(text)]
        if rest.strip(" \t,;") and not _looks_random(value):
            return False  # `Token: expired after an hour` is prose
    return True


def _find_assignments(rule: Rule, text: str, low: str, taken: Spans) -> Iterator[Candidate]:
    last_end = -1
    for m in _SECRET_KEYWORD.finditer(low):
        if m.start() < last_end:
            continue  # another keyword in a key already handled (secret_token)
        start = m.start()
        floor = max(0, start - 64)
        while start > floor and text[start - 1] in _KEY_CHARSET:
            start -= 1
        key_end = _KEY_CHARS.match(text, m.end()).end()  # type: ignore[union-attr]
        last_end = key_end
        raw = text[start:key_end]
        key = raw.lstrip("-.")
        kind = secret_key_kind(key)
        if kind is None:
            continue
        va = _ASSIGN_VALUE.match(text, key_end)
        if va is not None:
            group = "dq" if va.group("dq") is not None else "sq" if va.group("sq") is not None else "bare"
            value = va.group(group)
            vstart, vend = va.start(group), va.end(group)
            if group == "bare":
                trimmed = value.rstrip(".:")
                vend -= len(value) - len(trimmed)
                value = trimmed
            if taken and _overlaps(taken, vstart, vend):
                continue
            if _value_ok(value, quoted=group != "bare", key=key, op=va.group("op"), text=text,
                         start_op=va.start("op"), end=vend):
                last_end = vend
                yield Candidate(kind, vstart, vend, start, va.end())
            continue
        if raw.startswith("-"):  # a CLI flag with its value after a space: --password hunter2
            fv = _FLAG_VALUE.match(text, key_end)
            if fv is None:
                continue
            value = fv.group("bare")
            if value.startswith("-") or len(value) < 6 or not _looks_random(value):
                continue  # `--token flag`, `--password-stdin`: not a value
            if is_placeholder(value) or _CODE_REF.match(value):
                continue
            last_end = fv.end("bare")
            yield Candidate(kind, fv.start("bare"), fv.end("bare"), start, fv.end())


# --- name/value pairs: Kubernetes and CI `env:` lists

_NAME_VALUE = re.compile(
    r"""name:[ \t]*["']?(?P<name>[A-Za-z0-9_.\-]+)["']?[ \t]*\r?\n[ \t]*-?[ \t]*value:[ \t]*"""
    r"""(?:"(?P<dq>[^"\n]+)"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s"'#]+))"""
)


def _find_name_value(rule: Rule, text: str, low: str, taken: Spans) -> Iterator[Candidate]:
    for m in _NAME_VALUE.finditer(text):
        kind = secret_key_kind(m.group("name"))
        group = "dq" if m.group("dq") is not None else "sq" if m.group("sq") is not None else "bare"
        value = m.group(group)
        if kind is None or len(value) < 4 or is_placeholder(value):
            continue
        if taken and _overlaps(taken, m.start(group), m.end(group)):
            continue
        yield Candidate(kind, m.start(group), m.end(group), m.start(), m.end())


# --- high-entropy values in any assignment

_ENTROPY_ASSIGN = re.compile(
    r"""(?P<op>[=:])[ \t]*["']?(?P<val>[A-Za-z0-9+/_.~\-]{""" + str(ENTROPY_MIN_LEN) + ",}=*)"
)
_ENTROPY_KEY = re.compile(r"""([A-Za-z_][A-Za-z0-9_.\-]{0,63})["']?[ \t]*\Z""")
_ENTROPY_META = _META_WORDS | frozenset(
    "sha sha1 sha256 sha512 md5 checksum commit rev revision uuid guid etag integrity nonce salt "
    "image tag branch build release signature fingerprint thumbprint".split()
)
_PUBLIC_PREFIXES = ("pk_live_", "pk_test_")  # Stripe publishable keys
_SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")


def _is_encoded_text(value: str) -> bool:
    """Base64 of readable text (a sentence, a JSON blob): not a key."""
    if len(value) < 24 or len(value) % 4 == 1:
        return False
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    printable = sum(1 for c in decoded if c.isprintable())
    return " " in decoded and printable >= 0.95 * len(decoded)
_DOTTED = re.compile(r"^[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*)+$")


def _entropy_value_ok(value: str) -> bool:
    core = value.rstrip("=")
    if not ENTROPY_MIN_LEN <= len(core) <= ENTROPY_MAX_LEN:
        return False
    if _HEX.match(core) or _UUID.match(core) or core.startswith(_IMAGE_MAGIC + _PUBLIC_PREFIXES):
        return False
    if _DOTTED.match(core) or core.startswith(("/", "./", "~", "-")) or is_placeholder(core):
        return False
    if not _looks_random(core) or _class_switch_ratio(core) < CLASS_SWITCH_MIN:
        return False
    words = _WORD_SPLIT.findall(core)
    if not words or sum(map(len, words)) / len(words) >= WORD_LEN_MAX or _SNAKE.match(core):
        return False  # TokenRefreshHandlerFactoryV2, ip_v6_network: words, not noise
    if _is_encoded_text(core):
        return False  # base64 of a sentence: data, not a key
    return shannon_entropy(core) >= ENTROPY_THRESHOLD


def _find_high_entropy(rule: Rule, text: str, low: str, taken: Spans) -> Iterator[Candidate]:
    for m in _ENTROPY_ASSIGN.finditer(text):
        if m.group("op") == ":" and text.startswith("//", m.start() + 1):
            continue  # a URL, not an assignment
        km = _ENTROPY_KEY.search(text, max(0, m.start() - 66), m.start())
        if km is None:
            continue
        words = set(key_words(km.group(1)))
        if not words or words & _ENTROPY_META:
            continue
        value = m.group("val")
        end = m.end("val")
        if value.endswith(".") and not value.endswith("=."):
            value = value.rstrip(".")
            end = m.start("val") + len(value)
        if taken and _overlaps(taken, m.start("val"), end):
            continue
        if _entropy_value_ok(value):
            yield Candidate(rule.kind, m.start("val"), end, km.start(1), m.end())


_B64 = r"[A-Za-z0-9+/=]"
