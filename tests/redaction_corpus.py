"""The secret-redaction corpus: secret shapes that must be caught and
look-alikes that must be left alone (not a test module; used by
tests/test_redact.py and bench/redaction_corpus.py).

Every credential here is fake, and built at import time from a seeded RNG, so
no literal token sits in the source (push protection and secret scanners
would rightly flag one) and each run sees the same strings.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

_rng = random.Random(20261125)
ALNUM = string.ascii_letters + string.digits
UPPER32 = string.ascii_uppercase + "234567"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"


def tok(n: int, alphabet: str = ALNUM) -> str:
    """n random characters; retried until it mixes case and digits like real tokens."""
    while True:
        s = "".join(_rng.choice(alphabet) for _ in range(n))
        kinds = sum((any(c.islower() for c in s), any(c.isupper() for c in s),
                     any(c.isdigit() for c in s)))
        if kinds >= min(3, len({c.islower() * 1 + c.isupper() * 2 + c.isdigit() * 4
                                for c in alphabet})):
            return s


def b64(nbytes: int) -> str:
    return base64.b64encode(_rng.randbytes(nbytes)).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def pem(label: str, nbytes: int = 600, *, end: bool = True) -> str:
    body = b64(nbytes)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    out = [f"-----BEGIN {label}-----", *lines]
    if end:
        out.append(f"-----END {label}-----")
    return "\n".join(out)


def jwt() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": "u-" + tok(8), "exp": 1893456000}).encode())
    return f"{header}.{payload}.{b64url(_rng.randbytes(32))}"


def hexs(n: int) -> str:
    return "".join(_rng.choice(HEX) for _ in range(n))


def uuid4() -> str:
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class Secret:
    name: str
    kinds: tuple[str, ...]  # the kinds the redacted text must name
    text: str
    secrets: tuple[str, ...]  # substrings that must be gone afterwards


@dataclass(frozen=True)
class NonSecret:
    name: str
    category: str
    text: str
    notes: str = field(default="", compare=False)


def _aws() -> tuple[str, str]:
    return "AKIA" + tok(16, UPPER32), tok(40, B64)


_AWS_ID, _AWS_SECRET = _aws()
_AWS_ID2, _AWS_SECRET2 = _aws()
_ASIA = "ASIA" + tok(16, UPPER32)
_GHP = "ghp_" + tok(36)
_GHO = "gho_" + tok(36)
_GHS = "ghs_" + tok(36)
_GHU = "ghu_" + tok(36)
_GHR = "ghr_" + tok(36)
_PAT = "github_pat_" + tok(22) + "_" + tok(59)
_GLPAT = "glpat-" + tok(20, B64URL)
_XOXB = f"xoxb-{_rng.randrange(10**11, 10**12)}-{_rng.randrange(10**12, 10**13)}-{tok(24)}"
_XOXP = f"xoxp-{_rng.randrange(10**11, 10**12)}-{_rng.randrange(10**11, 10**12)}-" \
        f"{_rng.randrange(10**12, 10**13)}-{hexs(32)}"
_SLACK_HOOK = f"T{tok(8, UPPER32)}/B{tok(10, UPPER32)}/{tok(24)}"
_SK_LIVE = "sk_" + "live_" + tok(24)
_RK_LIVE = "rk_" + "live_" + tok(24)
_SK_TEST = "sk_" + "test_" + tok(24)
_OPENAI_OLD = "sk-" + tok(20) + "T3Blbk" + "FJ" + tok(20)
_OPENAI_PROJ = "sk-proj-" + tok(48, B64URL) + tok(20, B64URL)
_ANTHROPIC = "sk-ant-" + "api03-" + tok(93, B64URL) + "AA"
_NPM = "npm_" + tok(36)
_PYPI = "pypi-" + "AgEIcHlwaS5vcmc" + tok(70, B64URL)
_JWT = jwt()
_JWT2 = jwt()
_AZ_KEY = b64(64)
_AZ_SIG = tok(43, B64).replace("+", "%2B").replace("/", "%2F") + "%3D"
_SB_KEY = b64(32)
_GCP_PEM = pem("PRIVATE KEY", 900).replace("\n", "\\n") + "\\n"
_HF = "hf_" + tok(34)
_GOOGLE = "AIza" + tok(35, B64URL)
_SENDGRID = "SG." + tok(22, B64URL) + "." + tok(43, B64URL)
_BASIC = base64.b64encode(b"deploy:" + tok(16).encode()).decode()
_BEARER = tok(40, B64URL)
_ENTROPY = tok(32)
_PW1 = "Tr0ub4dor&3-" + tok(6)
_PW2 = tok(14) + "!"
_DB_PW = tok(18)
_NPM_UUID = uuid4()
_URL_PW = tok(20)
_HEX_KEY = hexs(32)
_FLAG_TOK = tok(30)
_SESSION = tok(24, B64URL)
_CLIENT_SECRET = tok(32, B64URL)
_TOML_TOK = tok(28)
_BEARER2 = tok(32, B64URL)
_CLI1 = tok(20)
_CLI2 = tok(12)
_CLI3 = tok(16)
_CLI4 = tok(12)
_K8S = tok(16)

SECRETS: tuple[Secret, ...] = (
    Secret("pem_rsa", ("private_key",),
           "Deploy key for the staging box (do not share):\n" + pem("RSA PRIVATE KEY") + "\nend.",
           ("BEGIN RSA PRIVATE KEY",)),
    Secret("openssh_key", ("private_key",),
           "~/.ssh/id_ed25519 is\n" + pem("OPENSSH PRIVATE KEY", 300), ("OPENSSH PRIVATE KEY",)),
    Secret("pgp_key", ("private_key",),
           "Release signing key:\n" + pem("PGP PRIVATE KEY BLOCK", 800) + "\n", ("PGP PRIVATE",)),
    Secret("pem_ec_truncated", ("private_key",),
           "the log printed " + pem("EC PRIVATE KEY", 120, end=False), ("EC PRIVATE KEY",)),
    Secret("pem_pkcs8_encrypted", ("private_key",),
           pem("ENCRYPTED PRIVATE KEY", 400), ("ENCRYPTED PRIVATE KEY",)),
    Secret("gcp_service_account", ("gcp_service_account",),
           json.dumps({"type": "service_account", "project_id": "kioku-demo",
                       "private_key_id": hexs(40)}, indent=2)[:-2]
           + f',\n  "private_key": "{_GCP_PEM}",\n'
           + '  "client_email": "ci@kioku-demo.iam.gserviceaccount.com"\n}',
           ("BEGIN PRIVATE KEY", _GCP_PEM[40:80])),
    Secret("aws_key_id_prose", ("aws_access_key_id",),
           f"CI failed because the IAM user key {_AWS_ID} was deactivated.", (_AWS_ID,)),
    Secret("aws_credentials_file", ("aws_access_key_id", "aws_secret_access_key"),
           f"[default]\naws_access_key_id = {_AWS_ID}\naws_secret_access_key = {_AWS_SECRET}\n",
           (_AWS_ID, _AWS_SECRET)),
    Secret("aws_csv", ("aws_access_key_id", "aws_secret_access_key"),
           f"Access key ID,Secret access key\n{_AWS_ID2},{_AWS_SECRET2}", (_AWS_ID2, _AWS_SECRET2)),
    Secret("aws_session", ("aws_access_key_id", "token"),
           f"export AWS_ACCESS_KEY_ID={_ASIA}\nexport AWS_SESSION_TOKEN={b64(120)}",
           (_ASIA,)),
    Secret("azure_storage_conn", ("azure_storage_key",),
           "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=kiokulogs;"
           f"AccountKey={_AZ_KEY};EndpointSuffix=core.windows.net", (_AZ_KEY,)),
    Secret("azure_sas_url", ("azure_sas_signature",),
           "upload with https://kiokulogs.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co"
           f"&sp=rwl&se=2027-01-01T00:00:00Z&spr=https&sig={_AZ_SIG}", (_AZ_SIG,)),
    Secret("azure_servicebus", ("azure_storage_key",),
           "Endpoint=sb://kioku.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
           f"SharedAccessKey={_SB_KEY}", (_SB_KEY,)),
    Secret("github_ghp_prose", ("github_token",),
           f"Used {_GHP} to push the release tag; revoke it after.", (_GHP,)),
    Secret("github_gho", ("github_token",), f'{{"access_token": "{_GHO}", "scope": "repo"}}', (_GHO,)),
    Secret("github_ghs_remote", ("github_token",),
           f"git remote set-url origin https://x-access-token:{_GHS}@github.com/acme/kioku.git",
           (_GHS,)),
    Secret("github_ghu_ghr", ("github_token",), f"user token {_GHU} refresh {_GHR}", (_GHU, _GHR)),
    Secret("github_pat_env", ("github_token",), f"export GITHUB_TOKEN={_PAT}", (_PAT,)),
    Secret("gitlab_pat", ("gitlab_token",),
           f"curl --header 'PRIVATE-TOKEN: {_GLPAT}' https://gitlab.example.org/api/v4/projects",
           (_GLPAT,)),
    Secret("slack_bot", ("slack_token",), f"SLACK_BOT={_XOXB}", (_XOXB,)),
    Secret("slack_user", ("slack_token",), f"the old user token was {_XOXP}.", (_XOXP,)),
    Secret("slack_webhook", ("slack_webhook",),
           f"alerts go to https://hooks.slack.com/services/{_SLACK_HOOK}", (_SLACK_HOOK,)),
    Secret("stripe_live", ("stripe_key",), f"stripe.api_key = '{_SK_LIVE}'", (_SK_LIVE,)),
    Secret("stripe_restricted", ("stripe_key",), f"reporting job uses {_RK_LIVE}", (_RK_LIVE,)),
    Secret("stripe_test", ("stripe_key",), f"STRIPE_KEY={_SK_TEST} in .env.test", (_SK_TEST,)),
    Secret("openai_legacy", ("openai_key",), f"OPENAI_API_KEY={_OPENAI_OLD}", (_OPENAI_OLD,)),
    Secret("openai_project", ("openai_key",),
           f'client = OpenAI(api_key="{_OPENAI_PROJ}")', (_OPENAI_PROJ,)),
    Secret("anthropic", ("anthropic_key",), f"ANTHROPIC_API_KEY: {_ANTHROPIC}", (_ANTHROPIC,)),
    Secret("npm_token", ("npm_token",),
           f"//registry.npmjs.org/:_authToken={_NPM}", (_NPM,)),
    Secret("npmrc_uuid", ("token",),
           f"//npm.pkg.example.org/:_authToken={_NPM_UUID}", (_NPM_UUID,)),
    Secret("pypi_token", ("pypi_token",),
           f"[pypi]\nusername = __token__\npassword = {_PYPI}\n", (_PYPI,)),
    Secret("jwt_prose", ("jwt",), f"the session cookie held {_JWT} until logout", (_JWT,)),
    Secret("jwt_bearer", ("jwt",),
           f'curl -H "Authorization: Bearer {_JWT2}" https://api.internal/v1/me', (_JWT2,)),
    Secret("postgres_url", ("connection_string",),
           f"DATABASE_URL=postgres://app:{_DB_PW}@db.internal:5432/kioku", (_DB_PW,)),
    Secret("postgres_short", ("connection_string",),
           "connect with postgres://user:pass@host/db", (":pass@",)),
    Secret("mysql_url", ("connection_string",),
           "mysql://root:" + _PW2 + "@127.0.0.1:3306/app", (_PW2,)),
    Secret("mongodb_srv", ("connection_string",),
           "mongodb+srv://kioku:Zx81-" + tok(10) + "@cluster0.ab1cd.mongodb.net/?retryWrites=true",
           ("Zx81-",)),
    Secret("redis_url", ("connection_string",),
           "REDIS_URL=redis://:r3disPa55w0rd@cache:6379/0", ("r3disPa55w0rd",)),
    Secret("amqp_url", ("connection_string",),
           "broker_url = 'amqp://guest:Gu3st-" + tok(8) + "@rabbit:5672//'", ("Gu3st-",)),
    Secret("https_basic_url", ("url_credentials",),
           "pip index https://ci:" + _URL_PW + "@pypi.internal/simple", (_URL_PW,)),
    Secret("env_password", ("password",), "DB_PASSWORD=hunter2\nDB_HOST=db", ("hunter2",)),
    Secret("pgpassword", ("password",), "PGPASSWORD=" + _PW1 + " psql -h db", (_PW1,)),
    Secret("yaml_password", ("password",),
           'database:\n  user: kioku\n  password: "S3cure!Pass"\n', ("S3cure!Pass",)),
    Secret("yaml_passwd_bare", ("password",), "smtp:\n  passwd: mailpass2026\n", ("mailpass2026",)),
    Secret("json_api_key", ("api_key",),
           '{"service": "maps", "api_key": "' + _HEX_KEY + '"}', (_HEX_KEY,)),
    Secret("cli_password_eq", ("password",),
           "mysqldump --user=backup --password=" + _PW2 + " app > dump.sql", (_PW2,)),
    Secret("cli_token_space", ("token",),
           "gh-release --token " + _FLAG_TOK + " --draft", (_FLAG_TOK,)),
    Secret("env_secret", ("secret",), "SESSION_SECRET=" + _SESSION, (_SESSION,)),
    Secret("client_secret_yaml", ("secret",),
           "oauth:\n  client_id: kioku-web\n  client_secret: " + _CLIENT_SECRET + "\n",
           (_CLIENT_SECRET,)),
    Secret("django_secret_key", ("secret",),
           "SECRET_KEY = 'django-insecure-" + tok(40, ALNUM + "!@#%^&*(-_=+)") + "'", ("django-insecure-",)),
    Secret("toml_token", ("token",), '[tool.bot]\ntoken = "' + _TOML_TOK + '"\n', (_TOML_TOK,)),
    Secret("odbc_password", ("password",),
           "Server=tcp:sql.internal,1433;Database=kioku;User Id=sa;Password=Str0ng!Pa55;",
           ("Str0ng!Pa55",)),
    Secret("basic_auth_header", ("authorization_header",),
           "Authorization: Basic " + _BASIC, (_BASIC,)),
    Secret("bearer_header", ("authorization_header",),
           "requests.get(url, headers={'Authorization': 'Bearer " + _BEARER + "'})", (_BEARER,)),
    Secret("bearer_log", ("bearer_token",),
           "request failed; sent bearer " + _BEARER2 + " to the gateway", (_BEARER2,)),
    Secret("high_entropy_env", ("high_entropy",), "ENCRYPTION_SEED=" + _ENTROPY, (_ENTROPY,)),
    Secret("google_api_key", ("google_api_key",), "maps key " + _GOOGLE, (_GOOGLE,)),
    Secret("huggingface", ("huggingface_token",), "HF_HOME=~/.hf; login with " + _HF, (_HF,)),
    Secret("sendgrid", ("sendgrid_key",), "SENDGRID=" + _SENDGRID, (_SENDGRID,)),
    Secret("openai_attr", ("openai_key",), f'openai.api_key = "{_OPENAI_PROJ[:60]}"',
           (_OPENAI_PROJ[:60],)),
    # Added after a held-out spot check (see docs/security.md): shapes first missed.
    Secret("docker_login_p", ("password",),
           f"docker login -u bot -p {_CLI1} registry.example.com", (_CLI1,)),
    Secret("mysql_p_attached", ("password",), f"mysql -h db -u root -p{_CLI2} app", (_CLI2,)),
    Secret("redis_cli_a", ("password",), f"redis-cli -h cache -a {_CLI3} ping", (_CLI3,)),
    Secret("curl_user", ("password",), f"curl -u admin:{_CLI4} https://jenkins.internal/api",
           (_CLI4,)),
    Secret("k8s_env_pair", ("password",),
           f'env:\n  - name: DB_PASS\n    value: "{_K8S}"\n  - name: DB_HOST\n    value: db',
           (_K8S,)),
    Secret("spring_property", ("password",), f"spring.datasource.password={_PW2}x", (_PW2,)),
    Secret("kubectl_literal", ("password",),
           f"kubectl create secret generic db --from-literal=password={_CLI2}z", (_CLI2,)),
    Secret("api_key_header", ("api_key",), f"x-api-key: {_BEARER}", (_BEARER,)),
    Secret("hex_auth_token", ("token",), f"TWILIO_AUTH_TOKEN={_HEX_KEY}", (_HEX_KEY,)),
    Secret("set_cookie_session", ("high_entropy",), f"Set-Cookie: session={_ENTROPY}; HttpOnly",
           (_ENTROPY,)),
)

# Secret shapes the rules do not catch, on purpose or not yet (reported as
# misses by bench/redaction_corpus.py; see docs/security.md).
KNOWN_GAPS: tuple[Secret, ...] = (
    Secret("prose_random_key", ("high_entropy",),
           f"the key is {_ENTROPY} (keep it safe)", (_ENTROPY,)),
    Secret("yaml_value_next_line", ("password",), f"password:\n  {_CLI1}", (_CLI1,)),
    Secret("plain_word_password_spaced", ("password",), "password = letmein", ("letmein",)),
)

_SHA1 = hexs(40)
_SHA256 = hexs(64)
_PNG = "iVBORw0KGgoAAAANSUhEUgAA" + b64(300)
_JPEG = "/9j/4AAQSkZJRgABAQ" + b64(300)

NON_SECRETS: tuple[NonSecret, ...] = (
    NonSecret("git_sha_prose", "hash", f"Fixed in commit {_SHA1}; see the PR."),
    NonSecret("git_sha_assign", "hash", f"commit: {_SHA1}\nparent={hexs(40)}"),
    NonSecret("git_short_sha", "hash", "reverted abc1234 and 9f8e7d6 (both broke the build)"),
    NonSecret("sha256_digest", "hash", f"sha256:{_SHA256}"),
    NonSecret("sha256sum_line", "hash", f"{_SHA256}  kioku_mesh-0.1.0.tar.gz"),
    NonSecret("checksum_assign", "hash", f'checksum = "{_SHA256}"'),
    NonSecret("hex_prose", "hash", f"the deploy hash {_SHA256} matched the artifact"),
    NonSecret("uuid_prose", "id", f"observation {uuid4()} was superseded"),
    NonSecret("uuid_assign", "id", f"request_id={uuid4()} trace_id: {hexs(32)}"),
    NonSecret("docker_digest", "hash", f"image: ghcr.io/acme/kioku@sha256:{_SHA256}"),
    NonSecret("npm_integrity", "hash", f'"integrity": "sha512-{b64(64)}"'),
    NonSecret("data_uri_png", "image", f'<img src="data:image/png;base64,{_PNG}">'),
    NonSecret("data_uri_jpeg", "image", f"background: url(data:image/jpeg;base64,{_JPEG});"),
    NonSecret("raw_png_assign", "image", f'"icon": "{_PNG[:180]}"'),
    NonSecret("placeholder_changeme", "placeholder", "password=changeme"),
    NonSecret("placeholder_angle", "placeholder", "password=<your-password>"),
    NonSecret("placeholder_env", "placeholder", "DB_PASSWORD=${DB_PASSWORD}\nAPI_KEY=$API_KEY"),
    NonSecret("placeholder_mask", "placeholder", 'api_key: "****"\ntoken=xxx'),
    NonSecret("placeholder_example", "placeholder", "secret: example\npassword: your_password_here"),
    NonSecret("placeholder_template", "placeholder", "token: {{ vault_token }}\npassword=%DB_PASS%"),
    NonSecret("aws_doc_example", "placeholder",
              "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
              "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    NonSecret("github_masked", "placeholder", "GITHUB_TOKEN=ghp_" + "x" * 36),
    NonSecret("gha_secret_ref", "placeholder", "with:\n  token: ${{ secrets.GITHUB_TOKEN }}"),
    NonSecret("postgres_placeholder", "placeholder",
              "postgres://user:password@localhost:5432/app (docs default)"),
    NonSecret("prose_vault", "prose", "The password is stored in the vault, never in the repo."),
    NonSecret("prose_token_colon", "prose", "Token: expired after an hour, so the client refreshes it."),
    NonSecret("prose_rotation", "prose",
              "We rotate the API key every 90 days; the secret lives in 1Password."),
    NonSecret("prose_auth", "prose",
              "Authorization header is required. Authorization: only admins may purge."),
    NonSecret("prose_bearer", "prose", "Bearer tokens are passed in the Authorization header."),
    NonSecret("prose_ja", "prose", "パスワードは Vault に保存する。トークンは毎日ローテーションする。"),
    NonSecret("code_type_hints", "code",
              "def login(username: str, password: str) -> Token:\n    api_key: Optional[str] = None"),
    NonSecret("code_subscript", "code", 'password = request.form["password"]\ntoken = get_token(session)'),
    NonSecret("code_attr", "code", "client = Client(token=args.token, password=self.password)"),
    NonSecret("code_varname", "code", "connect(password=db_password, api_key=openai_api_key)"),
    NonSecret("meta_keys", "code",
              "max_tokens=4096\ntoken_type: bearer\npassword_min_length = 12\nnum_tokens: 128000"),
    NonSecret("secret_name", "code", "SECRET_NAME=prod/db/credentials\nsecretName: tls-cert"),
    NonSecret("password_hash", "code", 'password_hash = "$2b$12$' + tok(53, ALNUM + "./") + '"'),
    NonSecret("token_url", "url", "TOKEN_URL=https://oauth2.googleapis.com/token"),
    NonSecret("url_plain", "url", "see https://github.com/acme/kioku-mesh/pull/68#discussion_r12345"),
    NonSecret("url_port", "url", "postgres://localhost:5432/app and redis://cache:6379/0"),
    NonSecret("url_user_only", "url", "ssh://git@github.com/acme/kioku.git or postgres://app@db/app"),
    NonSecret("identifier_entropy", "code", "HANDLER=TokenRefreshHandlerFactoryV2\nMODE=strict"),
    NonSecret("module_path", "code", "LOGGING_HANDLER=kioku_mesh.store.replication.Handler2Factory"),
    NonSecret("file_path", "code", "CONFIG_PATH=/etc/kioku-mesh/config.yaml\nPWD=/home/dev/kioku"),
    NonSecret("rel_path", "code", "source: src/kioku_mesh/core/redact.py:120"),
    NonSecret("version_string", "code", "version=1.2.3-rc.4+build.20261125\npython_requires: >=3.11"),
    NonSecret("public_key", "public",
              pem("PUBLIC KEY", 270) + "\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + b64(24)
              + " dev@laptop"),
    NonSecret("certificate", "public", pem("CERTIFICATE", 700)),
    NonSecret("stripe_publishable", "public", "STRIPE_PUBLISHABLE=pk_" + "live_" + tok(24)),
    NonSecret("sk_words", "code", "sk-learn vs scikit-learn; the task-force-2026-planning-doc; "
                                  "sk-some-long-kebab-case-name"),
    NonSecret("docker_password_stdin", "code",
              'echo "$CR_PAT" | docker login ghcr.io -u dev --password-stdin'),
    NonSecret("env_lookup", "code", 'key = os.environ["OPENAI_API_KEY"]  # set by direnv'),
    NonSecret("markdown_table", "prose", "| password | string | the DB password |\n|---|---|---|"),
    NonSecret("jwt_mention", "prose", "JWTs start with eyJ because the header is JSON."),
    NonSecret("test_name", "code",
              "pytest -k test_redacts_github_tokens_in_content_and_summary_when_saving"),
    NonSecret("ansible_vault", "code", "db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256"),
    NonSecret("yaml_secrets_inherit", "code", "jobs:\n  call:\n    secrets: inherit"),
    NonSecret("cli_flag_prose", "prose", "pass the --token flag or set --password-file instead"),
    NonSecret("kv_plain", "code", "timeout=30s retries=5 region: eu-west-1 level: debug"),
    NonSecret("base64_prose", "prose", "the blob " + b64(60) + " decodes to a protobuf"),
    # Added after the held-out spot check.
    NonSecret("password_encryption", "code",
              "The fix: set password_encryption = scram-sha-256 in postgresql.conf"),
    NonSecret("token_endpoint", "url", "token_endpoint: https://login.example.com/oauth2/token"),
    NonSecret("getter_prose", "prose",
              "Use `getPassword()` from the keychain module instead of reading PASSWORD from env."),
    NonSecret("k8s_secret_kind", "code",
              "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nsecrets:\n  - name: db-creds"),
    NonSecret("argon2_params", "code", "Argon2 params: memory_cost=65536, time_cost=3, parallelism=4"),
    NonSecret("nonce_hex", "hash", f"nonce={hexs(32)}"),
    NonSecret("password_regex", "code", "PASSWORD_REGEX = r'^(?=.*[A-Z]).{12,}$'"),
    NonSecret("fstring_key", "code", 'cache_key = f"user:{user_id}:profile"'),
    NonSecret("bool_flag", "code", "password=True enables the password prompt"),
    NonSecret("oauth_error", "prose", "Error: invalid_token (the access token expired)"),
    NonSecret("python_secrets_doc", "url",
              "see https://docs.python.org/3/library/secrets.html#secrets.token_urlsafe"),
    NonSecret("k8s_env_plain", "code", "env:\n  - name: LOG_LEVEL\n    value: debug"),
)
