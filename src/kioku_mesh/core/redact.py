"""Secret redaction: credentials are replaced before a memory is stored.

Pure and without I/O. `redact(text)` returns the text with every credential
replaced by ``[REDACTED:<kind>]`` and the findings (kind and position, never
the secret); `redact_observation(obs)` does that for an Observation's
free-text fields. The rule table is `RULES` below (ADR 0006); the matching helpers are in
core.redact_rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .redact_rules import (  # noqa: F401 - rule helpers, and public names re-exported
    _B64,
    ENTROPY_THRESHOLD,
    MARKER,
    SCANNED_FIELDS,
    Candidate,
    Finding,
    Rule,
    Spans,
    _always,
    _any_url,
    _auth_check,
    _db_url,
    _find_assignments,
    _find_high_entropy,
    _find_name_value,
    _overlaps,
    _random_token,
    is_placeholder,
)

if TYPE_CHECKING:
    from .models import Observation


# ------------------------------------------------------------------ rules

RULES: tuple[Rule, ...] = (
    Rule("gcp_service_account",
         r'"private_key"\s*:\s*"(?P<v>-----BEGIN[^"]{20,})"',
         "The private_key string of a Google service-account JSON file (its PEM with escaped "
         "newlines); the rest of the JSON (client_email, project_id) stays.",
         group="v", check=_always),
    Rule("private_key",
         r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
         r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
         r"|(?:(?:\\[nr]|\s)*(?:[A-Za-z-]+: [^\n\\]*|" + _B64 + r"{8,}))+)",
         "PEM (RSA, EC, DSA, PKCS#8, ENCRYPTED), OpenSSH and PGP private key blocks, up to the "
         "END line; a block cut short loses its BEGIN line and every base64 line after it. "
         "Public keys and certificates are not matched.",
         check=_always),
    Rule("aws_access_key_id",
         r"A(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z2-7]{16}\b",
         "AWS access key ids (long-term AKIA, temporary ASIA). AWS's documentation keys, "
         "which end in EXAMPLE, are placeholders.",
         boundary=True),
    Rule("aws_secret_access_key",
         r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key|aws_?secret)[\"']?\s*(?:=|:|=>)"
         r"\s*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
         "The 40-character secret access key after an aws_secret_access_key, "
         "SecretAccessKey or aws_secret name.",
         group="v", triggers=("awssecret", "aws_secret", "secretaccess", "secret_access")),
    Rule("aws_secret_access_key",
         r"A(?:KIA|SIA)[A-Z2-7]{16}[\s,;:|\"'=]{1,8}(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
         "The 40-character secret access key right after an access key id (the console's "
         "credentials CSV, `aws configure` transcripts).",
         group="v"),
    Rule("azure_storage_key",
         r"(?i:AccountKey|SharedAccessKey)\s*=\s*(?P<v>[A-Za-z0-9+/]{20,}={0,2})",
         "The AccountKey / SharedAccessKey of an Azure storage, Service Bus or Event Hubs "
         "connection string; account name and endpoints stay.",
         group="v", triggers=("accountkey", "sharedaccesskey")),
    Rule("azure_sas_signature",
         r"[?&]sig=(?P<v>[A-Za-z0-9%+/]{20,}(?:%3D|=)*)",
         "The sig= parameter of an Azure shared access signature URL or SAS token.",
         group="v", triggers=("sig=",)),
    Rule("github_token",
         r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{30,251})\b",
         "GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens "
         "(ghp_ gho_ ghu_ ghs_ ghr_) and fine-grained tokens (github_pat_).",
         boundary=True),
    Rule("gitlab_token",
         r"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[A-Za-z0-9_\-]{20,}",
         "GitLab personal (glpat-), deploy, runner, pipeline-trigger and other tokens.",
         boundary=True),
    Rule("slack_token",
         r"xox[abposre]-[A-Za-z0-9\-]{10,}",
         "Slack bot, user, app, config and refresh tokens (xoxb- xoxp- xoxa- xoxr- xoxs- xoxe-).",
         boundary=True),
    Rule("slack_webhook",
         r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9_/+\-]{20,})",
         "Slack incoming-webhook URLs: the path after hooks.slack.com/services/ is the secret.",
         group="v"),
    Rule("stripe_key",
         r"sk_(?:live|test)_[A-Za-z0-9]{16,}",
         "Stripe secret keys (live and test); publishable keys (pk_) are public.",
         boundary=True),
    Rule("stripe_key",
         r"rk_(?:live|test)_[A-Za-z0-9]{16,}",
         "Stripe restricted keys.",
         boundary=True),
    Rule("stripe_key",
         r"whsec_[A-Za-z0-9]{24,}",
         "Stripe webhook signing secrets.",
         boundary=True),
    Rule("anthropic_key",
         r"sk-ant-[A-Za-z0-9_\-]{20,}",
         "Anthropic API and admin keys (sk-ant-api03-..., sk-ant-admin01-...).",
         boundary=True),
    Rule("openai_key",
         r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
         "OpenAI keys: legacy sk-<48>, project sk-proj-..., service-account and admin keys. "
         "Must mix letter cases or letters and digits (sk-some-long-kebab-name is not a key).",
         check=_random_token, boundary=True),
    Rule("npm_token",
         r"npm_[A-Za-z0-9]{36}\b",
         "npm access tokens (npm_...); an .npmrc `_authToken=` line is caught as token.",
         boundary=True),
    Rule("pypi_token",
         r"pypi-AgE[A-Za-z0-9_\-]{50,}",
         "PyPI and TestPyPI API tokens (macaroons starting pypi-AgE...).",
         boundary=True),
    Rule("huggingface_token",
         r"hf_[A-Za-z0-9]{30,}\b",
         "Hugging Face access tokens.",
         check=_random_token, boundary=True),
    Rule("google_api_key",
         r"AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])",
         "Google API keys (AIza...).",
         boundary=True),
    Rule("sendgrid_key",
         r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])",
         "SendGrid API keys.",
         boundary=True),
    Rule("jwt",
         r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
         "JSON Web Tokens: three base64url segments, the first (the header) starting eyJ.",
         boundary=True),
    Rule("connection_string",
         r"://[^\s:/?#@'\"<>]*:(?P<v>[^\s/?#@'\"<>]+)@",
         "Database and broker URLs with an embedded password: the scheme before :// is "
         "postgres(ql), mysql, mariadb, mongodb(+srv), redis(s), amqp(s), mssql, sqlserver, "
         "oracle, cockroachdb, clickhouse, nats or kafka, optionally +driver. Only the "
         "password is replaced.",
         group="v", check=_db_url),
    Rule("url_credentials",
         r"://[^\s:/?#@'\"<>]+:(?P<v>[^\s/?#@'\"<>]+)@",
         "Any other URL with user:password@ (https, ftp, smtp, a git remote with a token).",
         group="v", check=_any_url),
    Rule("authorization_header",
         r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?"
         r"(?:(?P<scheme>(?i:bearer|basic|token|digest|apikey|negotiate))\s+)?"
         r"(?P<v>[A-Za-z0-9._~+/\-]+=*)",
         "HTTP Authorization (and Proxy-Authorization) headers: the credential is replaced, the "
         "scheme (Bearer, Basic, token ...) stays. 8+ characters; random-looking if no scheme.",
         group="v", check=_auth_check, triggers=("authorization",)),
    Rule("bearer_token",
         r"[Bb]earer\s+(?P<v>[A-Za-z0-9._~+/\-]{20,}=*)",
         "A bearer token outside a header (logs, notes): 20+ random-looking characters.",
         group="v", check=_random_token, triggers=("bearer",), boundary=True),
    Rule("password",
         r"(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;&]*?[ \t]-p(?P<v>[^\s'\"]{2,}[^\s'\".,;:)])",
         "The MySQL client's -pPASSWORD (attached; `-p` alone prompts).",
         group="v"),
    Rule("password",
         r"(?:docker|podman|buildah|skopeo|helm|oras|nerdctl)[ \t]+(?:registry[ \t]+)?login\b"
         r"[^\n|;&]*?[ \t](?:-p|--password)(?:=|[ \t]+)[\"']?(?P<v>[^\s'\"]*[^\s'\".,;:)])",
         "Container-registry logins with -p / --password on the command line.",
         group="v"),
    Rule("password",
         r"(?:redis-cli\b[^\n|;&]*?[ \t]-a|sshpass[ \t]+-p)[ \t]*[\"']?(?P<v>[^\s'\"]{2,}[^\s'\".,;:)])",
         "redis-cli -a PASSWORD and sshpass -p PASSWORD.",
         group="v"),
    Rule("password",
         r"curl\b[^\n|;&]*?[ \t](?:-u|--user)[ \t]+[\"']?[^\s:'\"]+:(?P<v>[^\s'\"]*[^\s'\".,;:)])",
         "curl -u user:password.",
         group="v"),
    Rule("password",
         r"name: NAME\n  value: v  (NAME naming a password, token, secret or key)",
         "Kubernetes, Docker Compose and CI `env:` lists of name/value pairs; the kind is "
         "password, api_key, token or secret after the name.",
         finder=_find_name_value),
    Rule("password",
         r"<key naming password|passwd|pass|pwd|passphrase|secret|token|api_key|access_key|"
         r"auth_key|private_key|credentials>[\"']?\s*(=|:|:=|=>)\s*(\"v\"|'v'|v)"
         r"  or  --<key> v",
         "Assignments in env files, YAML, JSON, TOML, INI, code and CLI flags (--password=v, "
         "--password v); the kind is password, api_key, token or secret after the key. "
         "Placeholders, code, type hints, prose and metadata keys are not values (see above).",
         finder=_find_assignments),
    Rule("high_entropy",
         r"<identifier>[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9+/_.~-]{20,200}",
         "A random-looking value in any assignment (see ENTROPY_THRESHOLD); hex, UUIDs, "
         "dotted names, paths and keys such as sha, commit or integrity are left alone.",
         finder=_find_high_entropy),
)
# The kinds a finding can have (the assignment rule yields four).
KINDS: tuple[str, ...] = tuple(dict.fromkeys(
    [r.kind for r in RULES if r.kind != "password"] + ["password", "api_key", "token", "secret"]
))


# ------------------------------------------------------------- allowlist


class Allowlist:
    """Exact strings and regexes that are never redacted.

    A finding is kept out when its secret equals one of `strings`, or when
    one of `patterns` is found (re.search) in the secret or in the whole
    match around it (e.g. ``DEMO_TOKEN=...``)."""

    __slots__ = ("strings", "patterns")

    def __init__(self, strings: frozenset[str] = frozenset(),
                 patterns: tuple[re.Pattern[str], ...] = ()) -> None:
        self.strings = strings
        self.patterns = patterns

    @classmethod
    def build(cls, strings: Iterable[str] = (), patterns: Iterable[str] = ()) -> Allowlist:
        return cls(frozenset(s for s in strings if s), tuple(re.compile(p) for p in patterns if p))

    def allows(self, secret: str, context: str) -> bool:
        if secret in self.strings:
            return True
        return any(p.search(secret) or p.search(context) for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.strings or self.patterns)


# ------------------------------------------------------------------- API


class Redaction:
    """What a save reports: how many secrets of a kind were replaced in a field.
    (Not a NamedTuple: a field named `count` would shadow tuple.count.)"""

    __slots__ = ("kind", "field", "count")

    def __init__(self, kind: str, field: str, count: int) -> None:
        self.kind = kind
        self.field = field
        self.count = count

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "field": self.field, "count": self.count}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Redaction):
            return NotImplemented
        return (self.kind, self.field, self.count) == (other.kind, other.field, other.count)

    def __hash__(self) -> int:
        return hash((self.kind, self.field, self.count))

    def __repr__(self) -> str:
        return f"Redaction({self.kind!r}, {self.field!r}, {self.count})"


def find_secrets(text: str, allowlist: Allowlist | None = None,
                 rules: Sequence[Rule] = RULES) -> list[Finding]:
    """The secrets in `text`, in order, none overlapping."""
    if len(text) < 8:
        return []
    low = text.lower()
    taken: list[Finding] = []
    for rule in rules:
        if rule.triggers and not any(t in low for t in rule.triggers):
            continue
        for cand in rule.find(text, low, taken):
            if cand.end <= cand.start:
                continue
            if _overlaps(taken, cand.start, cand.end):
                continue
            if text[cand.end:cand.end + 12].lstrip(".:").startswith("[REDACTED:"):
                continue  # the rest of a value already redacted: redacting twice changes nothing
            if allowlist and allowlist.allows(text[cand.start:cand.end],
                                              text[cand.context_start:cand.context_end]):
                continue
            taken.append(Finding(cand.kind, cand.start, cand.end))
    taken.sort(key=lambda f: f.start)
    return taken


def redact(text: str, allowlist: Allowlist | None = None) -> tuple[str, list[Finding]]:
    """Replace every secret in `text` with [REDACTED:<kind>]."""
    findings = find_secrets(text, allowlist)
    if not findings:
        return text, []
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(MARKER.format(kind=f.kind))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), findings


def redact_observation(obs: Observation, allowlist: Allowlist | None = None
                       ) -> tuple[Observation, list[Redaction]]:
    """A copy of `obs` with secrets replaced in its free-text fields, and what
    was replaced: one Redaction per (kind, field), in field order."""
    # Most memories hold no secret: one scan over all fields, blank lines
    # between them, says so at about half the cost of a scan per field (each
    # rule pays its set-up once). Only when it finds something are the fields
    # scanned one by one; a property test checks this changes no answer.
    texts = [v for name in SCANNED_FIELDS
             for v in ((getattr(obs, name),) if isinstance(getattr(obs, name), str)
                       else getattr(obs, name))]
    if not find_secrets("\n\n".join(texts), allowlist):
        return obs, []
    return _redact_fields(obs, allowlist)


def _redact_fields(obs: Observation, allowlist: Allowlist | None = None
                   ) -> tuple[Observation, list[Redaction]]:
    changes: dict[str, Any] = {}
    report: list[Redaction] = []
    for name in SCANNED_FIELDS:
        value = getattr(obs, name)
        counts: Counter[str] = Counter()
        if isinstance(value, str):
            new, found = redact(value, allowlist)
            if found:
                changes[name] = new
                counts.update(f.kind for f in found)
        else:
            items = []
            for item in value:
                new, found = redact(item, allowlist)
                items.append(new)
                counts.update(f.kind for f in found)
            if counts:
                changes[name] = items
        report.extend(Redaction(kind, name, n) for kind, n in counts.items())
    return (replace(obs, **changes) if changes else obs), report


def placeholders(texts: Iterable[str]) -> list[str]:
    """Key-shaped values left alone because they are documentation placeholders
    (AKIAIOSFODNN7EXAMPLE): said out loud, so nobody concludes redaction failed."""
    found: list[str] = []
    for text in texts:
        if len(text) < 8:
            continue
        for rule in RULES:
            if rule.compiled is None or not rule.boundary:
                continue  # only token-shaped rules: a `password=changeme` is not worth a note
            for m in rule.compiled.finditer(text):
                value = m.group(rule.group)
                if value and is_placeholder(value) and value not in found:
                    found.append(value)
    return found


def describe(redactions: Sequence[Redaction]) -> str:
    """`1 secret (github_token in content)`, `3 secrets (password x2 in content, ...)`."""
    total = sum(r.count for r in redactions)
    parts = [f"{r.kind}{f' x{r.count}' if r.count > 1 else ''} in {r.field}" for r in redactions]
    return f"{total} secret{'s' if total != 1 else ''} ({', '.join(parts)})"
