"""The private CA and mutual TLS: `kioku-mesh tls ...` end to end, and real Zenoh links.

Two isolated environments play the CA host and a peer; the CLI runs as a
subprocess. The Zenoh checks open real sessions over tls/127.0.0.1 in-process.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import socket
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
import zenoh
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kioku_mesh.core.config import Settings, read_yaml
from kioku_mesh.core.errors import KiokuError, ValidationError
from kioku_mesh.tls import blocks, pki
from kioku_mesh.tls.errors import TlsError

# ------------------------------------------------------------------ helpers


def tls_dir(env) -> Path:
    return env.state_dir / "tls"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_line_error(res, rc: int | None = None) -> str:
    assert res.returncode != 0, res.stdout
    if rc is not None:
        assert res.returncode == rc, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("kioku-mesh: error:"), lines[0]
    assert "Traceback" not in res.stderr
    return lines[0]


def no_secrets(*outputs: str) -> None:
    for text in outputs:
        assert "PRIVATE KEY" not in text


def init_ca(env) -> None:
    env.run("tls", "init-ca", check=True)


def request(env, *args: str) -> str:
    res = env.run("tls", "request", *args, check=True)
    no_secrets(res.stdout, res.stderr)
    return res.stdout


def sign(ca_env, block: str, *args: str) -> str:
    res = ca_env.run("tls", "sign", *args, input=block, check=True)
    no_secrets(res.stdout, res.stderr)
    return res.stdout


def nothing_installed(env) -> None:
    assert not (tls_dir(env) / "peer.crt").exists()
    assert not (tls_dir(env) / "ca.crt").exists()
    assert "tls" not in read_yaml(env.config_path)


@pytest.fixture
def pair(make_km):
    """(CA host, peer whose user_id is alice), with a CA already made."""
    ca_env = make_km()
    peer = make_km(KIOKU_MESH_USER_ID="alice")
    init_ca(ca_env)
    return ca_env, peer


def lib_settings(root: Path, user_id: str = "") -> Settings:
    config = root / "config.yaml"
    return Settings(state_dir=root / "state", config_path=config, project_config_path=None,
                    user_id=user_id, raw_global=read_yaml(config))


# -------------------------------------------------------------- the flow


def test_full_enrollment_flow(pair):
    ca_env, peer = pair
    peer.config_path.parent.mkdir(parents=True)
    peer.config_path.write_text("mode: local\nteam_id: core\n")

    req = request(peer, "--san", "127.0.0.1", "localhost")
    assert req.startswith("=== BEGIN kioku-mesh certificate request ===\n")
    assert req.rstrip().endswith("=== END kioku-mesh certificate request ===")
    assert "-----BEGIN CERTIFICATE REQUEST-----" in req
    key_path = tls_dir(peer) / "peer.key"
    key_bytes = key_path.read_bytes()
    assert mode(key_path) == 0o600 and mode(tls_dir(peer)) == 0o700

    bundle = sign(ca_env, req)
    assert bundle.startswith("=== BEGIN kioku-mesh certificate bundle ===\n")
    assert bundle.count("-----BEGIN CERTIFICATE-----") == 2

    res = peer.run("tls", "install", input=bundle, check=True)
    no_secrets(res.stdout, res.stderr)
    assert "CN=alice" in res.stdout
    assert res.stderr == ""

    # Files: key untouched, everything 0600 in a 0700 dir; CA material only on the CA host.
    assert key_path.read_bytes() == key_bytes
    for name in ("peer.key", "peer.crt", "ca.crt"):
        assert mode(tls_dir(peer) / name) == 0o600, name
    for name in ("ca.key", "ca.crt", "issued.jsonl"):
        assert mode(tls_dir(ca_env) / "ca" / name) == 0o600, name
    assert mode(tls_dir(ca_env) / "ca") == 0o700
    assert not (tls_dir(peer) / "ca").exists()
    assert not (tls_dir(ca_env) / "peer.key").exists()

    # Config: absolute paths merged into the global file, other settings kept.
    config = yaml.safe_load(peer.config_path.read_text())
    assert config["mode"] == "local" and config["team_id"] == "core"
    assert config["tls"] == {"ca": str(tls_dir(peer) / "ca.crt"), "cert": str(tls_dir(peer) / "peer.crt"),
                             "key": str(key_path)}
    assert all(Path(v).is_absolute() for v in config["tls"].values())

    # The certificate: CN, SANs, usages, chain to the CA host's CA.
    cert = x509.load_pem_x509_certificate((tls_dir(peer) / "peer.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tls_dir(ca_env) / "ca" / "ca.crt").read_bytes())
    assert (tls_dir(peer) / "ca.crt").read_bytes() == (tls_dir(ca_env) / "ca" / "ca.crt").read_bytes()
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.public_key().curve.name == ca.public_key().curve.name == "secp256r1"
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 365 <= days <= 366

    issued = [json.loads(line) for line in (tls_dir(ca_env) / "ca" / "issued.jsonl").read_text().splitlines()]
    assert [(i["cn"], i["sans"]) for i in issued] == [("alice", ["127.0.0.1", "localhost"])]

    # info, JSON and text.
    info = json.loads(peer.run("tls", "info", "--json", check=True).stdout)
    p = info["peer"]
    assert p["subject_cn"] == "alice" and p["sans"] == ["127.0.0.1", "localhost"]
    assert p["issuer_cn"] == "kioku-mesh CA"
    assert p["key_matches"] is True and p["signed_by_trusted_ca"] is True
    assert 363 <= p["days_left"] <= 365 and p["expired"] is False
    assert p["not_before"] < p["not_after"]
    assert info["trusted_ca"]["fingerprint"] == issued[0]["ca_fingerprint"]
    assert info["ca"] is None and info["pending_key"] is None
    text = peer.run("tls", "info", check=True).stdout
    for needle in ("subject CN:  alice", "127.0.0.1, localhost", "issuer:      kioku-mesh CA",
                   "days left", "(matches)", "signed by the trusted CA", "trusted CA:"):
        assert needle in text, needle
    no_secrets(text)
    ca_info = json.loads(ca_env.run("tls", "info", "--json", check=True).stdout)
    assert ca_info["ca"]["is_ca"] and ca_info["ca"]["key_matches"] and ca_info["peer"] is None


def test_ca_host_enrols_itself_through_a_pipe(pair):
    ca_env, _ = pair
    req = request(ca_env, "--san", "hub.lan", "--cn", "hub")
    ca_env.run("tls", "install", input=sign(ca_env, req), check=True)
    info = json.loads(ca_env.run("tls", "info", "--json", check=True).stdout)
    assert info["peer"]["subject_cn"] == "hub" and info["peer"]["signed_by_trusted_ca"]
    assert info["trusted_ca"]["fingerprint"] == info["ca"]["fingerprint"]


def test_default_cn_and_sans(make_km):
    named = make_km(KIOKU_MESH_USER_ID="carol")
    out = json.loads(named.run("tls", "request", "--san", "10.0.0.7", "--json", check=True).stdout)
    assert out["cn"] == "carol" and out["sans"] == ["10.0.0.7"]
    assert "PRIVATE KEY" not in json.dumps(out)
    assert json.loads(named.run("tls", "request", "--san", "x.lan", "--cn", "bob", "--json",
                                check=True).stdout)["cn"] == "bob"

    host = socket.gethostname()
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9-]{1,63})*$", host):
        pytest.skip(f"host name {host!r} is not usable as a default CN/SAN")
    anonymous = make_km()
    res = anonymous.run("tls", "request", "--json", check=True)
    out = json.loads(res.stdout)
    assert out["cn"] == socket.gethostname().split(".")[0]
    assert out["sans"] == [socket.gethostname().lower()] and out["default_san"] is True
    assert "no --san given" in res.stderr


def test_request_reuses_the_key_and_new_key_waits_for_install(pair):
    ca_env, peer = pair
    first = request(peer, "--san", "127.0.0.1")
    key = (tls_dir(peer) / "peer.key").read_bytes()
    request(peer, "--san", "127.0.0.1")  # output lost, asked again: same key
    assert (tls_dir(peer) / "peer.key").read_bytes() == key
    peer.run("tls", "install", input=sign(ca_env, first), check=True)

    rotated = request(peer, "--san", "127.0.0.1", "--new-key")
    pending = tls_dir(peer) / "peer.key.new"
    assert pending.exists() and mode(pending) == 0o600
    assert (tls_dir(peer) / "peer.key").read_bytes() == key  # the installed pair still works
    info = json.loads(peer.run("tls", "info", "--json", check=True).stdout)
    assert info["pending_key"] == str(pending) and info["peer"]["key_matches"]

    peer.run("tls", "install", input=sign(ca_env, rotated), check=True)
    assert not pending.exists()
    assert (tls_dir(peer) / "peer.key").read_bytes() != key
    info = json.loads(peer.run("tls", "info", "--json", check=True).stdout)
    assert info["peer"]["key_matches"] and info["pending_key"] is None


def test_init_ca_refuses_to_overwrite_and_force_warns(km):
    init_ca(km)
    ca_dir = tls_dir(km) / "ca"
    before = {p.name: p.read_bytes() for p in ca_dir.iterdir()}
    msg = one_line_error(km.run("tls", "init-ca"), rc=1)
    assert "already exists" in msg and "--force" in msg
    assert {p.name: p.read_bytes() for p in ca_dir.iterdir()} == before

    res = km.run("tls", "init-ca", "--force", "--json", check=True)
    assert "warning" in res.stderr and "invalid" in res.stderr and "every peer" in res.stderr
    out = json.loads(res.stdout)
    assert out["replaced"] is True
    assert (ca_dir / "ca.key").read_bytes() != before["ca.key"]
    assert mode(ca_dir / "ca.key") == 0o600

    fresh = km.run("tls", "init-ca", "--force", "--cn", "Other CA", "--days", "30",
                   extra_env={"KIOKU_MESH_STATE_DIR": str(km.state_dir / "elsewhere")}, check=True)
    assert fresh.stderr == ""  # nothing was replaced, nothing to warn about
    no_secrets(res.stdout, fresh.stdout)


# ---------------------------------------------------------- bad input


def test_sign_rejects_bad_requests(pair, make_km):
    ca_env, peer = pair
    req = request(peer, "--san", "127.0.0.1")
    log = tls_dir(ca_env) / "ca" / "issued.jsonl"

    assert "no certificate request" in one_line_error(ca_env.run("tls", "sign", input="hello\n"), rc=2)
    assert "cut short" in one_line_error(
        ca_env.run("tls", "sign", input=req.replace("=== END kioku-mesh certificate request ===", "")), rc=2)
    der = blocks.dearmor(req, blocks.REQUEST)[0][1]
    garbled = blocks.armor(blocks.REQUEST, [blocks.pem("CERTIFICATE REQUEST", der[:60])], [])
    assert "not a valid CSR" in one_line_error(ca_env.run("tls", "sign", input=garbled), rc=2)
    key_block = (tls_dir(peer) / "peer.key").read_text()
    assert "PRIVATE KEY" in one_line_error(ca_env.run("tls", "sign", input=req + key_block), rc=2)
    assert "--days" in one_line_error(ca_env.run("tls", "sign", "--days", "0", input=req), rc=2)
    assert "outlives the CA" in one_line_error(
        make_ca_of_days(make_km, 10).run("tls", "sign", "--days", "20", input=req), rc=1)
    assert "init-ca" in one_line_error(peer.run("tls", "sign", input=req), rc=1)
    assert "cannot read" in one_line_error(ca_env.run("tls", "sign", str(ca_env.home / "nope")), rc=2)

    # A request altered after it was made (CN changed): the signature no longer holds.
    forged_der = der.replace(b"alice", b"admin")
    forged = blocks.armor(blocks.REQUEST, [blocks.pem("CERTIFICATE REQUEST", forged_der)], [])
    assert "signature is invalid" in one_line_error(ca_env.run("tls", "sign", input=forged), rc=1)

    bundle = sign(ca_env, req)
    assert "certificate bundle, not a certificate request" in one_line_error(
        ca_env.run("tls", "sign", input=bundle), rc=2)
    assert len(log.read_text().splitlines()) == 1  # only the one good signature was recorded


def make_ca_of_days(make_km, days: int):
    env = make_km()
    env.run("tls", "init-ca", "--days", str(days), check=True)
    return env


def test_request_rejects_bad_names(km):
    assert "not an IP address or DNS name" in one_line_error(
        km.run("tls", "request", "--san", "tls/10.0.0.1:7447"), rc=2)
    assert "not an IP address or DNS name" in one_line_error(km.run("tls", "request", "--san", "*.lan"), rc=2)
    assert "not a valid user id" in one_line_error(
        km.run("tls", "request", "--san", "a.lan", "--cn", "alice smith"), rc=2)
    assert not (tls_dir(km) / "peer.key").exists()


def test_install_rejects_bad_bundles_and_writes_nothing(pair, make_km):
    ca_env, peer = pair
    other = make_km(KIOKU_MESH_USER_ID="bob")
    req = request(peer, "--san", "127.0.0.1")
    good = sign(ca_env, req)

    assert "no certificate bundle" in one_line_error(peer.run("tls", "install", input="garbage"), rc=2)
    assert "certificate request, not a certificate bundle" in one_line_error(
        peer.run("tls", "install", input=req), rc=2)
    # Another host's bundle: the certificate does not match this host's key.
    other_bundle = sign(ca_env, request(other, "--san", "10.0.0.2"))
    assert "does not match this host's key" in one_line_error(
        peer.run("tls", "install", input=other_bundle), rc=1)
    # A host that never made a request has no key to match.
    assert "no private key" in one_line_error(make_km().run("tls", "install", input=good), rc=1)
    # The CA in the bundle is not the one that signed the certificate.
    rogue = make_km()
    init_ca(rogue)
    pems = [p for _, p in _pems(good)]
    swapped = blocks.armor(blocks.BUNDLE, [pems[0], (tls_dir(rogue) / "ca" / "ca.crt").read_text()], [])
    assert "not signed by the CA in the bundle" in one_line_error(
        peer.run("tls", "install", input=swapped), rc=1)
    # Only the CA certificate, or only the peer certificate.
    assert "expected a peer certificate and a CA certificate" in one_line_error(
        peer.run("tls", "install", input=blocks.armor(blocks.BUNDLE, [pems[0]], [])), rc=2)
    # An expired certificate, properly signed by the right CA.
    expired = _expired_bundle(ca_env, req)
    assert "expired on" in one_line_error(peer.run("tls", "install", input=expired), rc=1)
    nothing_installed(peer)
    nothing_installed(other)

    peer.run("tls", "install", input=good, check=True)  # and the genuine one still installs


def _pems(block: str) -> list[tuple[str, str]]:
    return [(label, blocks.pem(label, der)) for label, der in blocks.dearmor(block, blocks.BUNDLE)]


def _expired_bundle(ca_env, req: str) -> str:
    ca_dir = tls_dir(ca_env) / "ca"
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    csr = x509.load_der_x509_csr(blocks.dearmor(req, blocks.REQUEST)[0][1])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now - dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return blocks.armor(blocks.BUNDLE, [pem, (ca_dir / "ca.crt").read_text()], [])


def test_pasted_blocks_survive_indentation_and_crlf(tmp_path):
    ca = lib_settings(tmp_path / "ca")
    peer = lib_settings(tmp_path / "peer", "alice")
    pki.init_ca(ca)
    req = pki.request(peer, ["127.0.0.1"]).block
    mangled = "Here you go:\r\n" + "".join(f"    {line}\r\n" for line in req.splitlines()) + "thanks\r\n"
    bundle = pki.sign(ca, mangled).block
    assert pki.install(peer, "> quoted? no, just text\n" + bundle + "\n").cn == "alice"


def test_info_and_errors_with_nothing_installed(km):
    assert "no TLS certificate" in one_line_error(km.run("tls", "info"), rc=1)
    assert "--help" in km.run("tls").stderr and km.run("tls").returncode == 2


# ------------------------------------------------------------- enroll


FAKE_SSH = """#!{python}
# A stand-in for ssh: runs the remote command locally, in the CA host's environment.
import json, os, shlex, sys
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
host, command = sys.argv[1], " ".join(sys.argv[2:])
args = shlex.split(command)
if args[0] != "kioku-mesh":
    print(f"sh: {{args[0]}}: command not found", file=sys.stderr)
    sys.exit(127)
env = json.loads(open(os.environ["FAKE_SSH_CA_ENV"]).read())
os.execve(sys.executable, [sys.executable, "-m", "kioku_mesh.cli.main", *args[1:]], env)
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, pair):
    ca_env, peer = pair
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    script = bin_dir / "ssh"
    script.write_text(FAKE_SSH.format(python=sys.executable))
    script.chmod(0o755)
    ca_env_file = tmp_path / "ca-env.json"
    ca_env_file.write_text(json.dumps(ca_env.env))
    log = tmp_path / "ssh.log"
    extra = {"PATH": f"{bin_dir}{os.pathsep}{peer.env.get('PATH', '')}",
             "FAKE_SSH_CA_ENV": str(ca_env_file), "FAKE_SSH_LOG": str(log)}
    return ca_env, peer, extra, log


def test_enroll_over_fake_ssh(fake_ssh):
    ca_env, peer, extra, log = fake_ssh
    res = peer.run("tls", "enroll", "admin@ca-host", "--san", "127.0.0.1", "--days", "30",
                   extra_env=extra, check=True)
    no_secrets(res.stdout, res.stderr)
    assert json.loads(log.read_text()) == ["admin@ca-host", "kioku-mesh tls sign - --days 30"]
    assert "admin@ca-host: signed CN=alice" in res.stderr
    assert "installed the certificate for CN=alice" in res.stdout
    info = json.loads(peer.run("tls", "info", "--json", check=True).stdout)["peer"]
    assert info["subject_cn"] == "alice" and info["key_matches"] and info["signed_by_trusted_ca"]
    assert 28 <= info["days_left"] <= 30
    assert mode(tls_dir(peer) / "peer.key") == 0o600
    assert "tls" in read_yaml(peer.config_path)
    issued = (tls_dir(ca_env) / "ca" / "issued.jsonl").read_text()
    assert '"cn": "alice"' in issued


def test_enroll_reports_remote_failure(fake_ssh):
    _, peer, extra, _ = fake_ssh
    msg = one_line_error(peer.run("tls", "enroll", "ca-host", "--san", "127.0.0.1",
                                  "--remote-command", "/opt/km", extra_env=extra), rc=1)
    assert "was not found there" in msg and "by hand" in msg
    nothing_installed(peer)
    assert (tls_dir(peer) / "peer.key").exists()  # the request is kept for the manual route


def test_enroll_without_ssh_says_how_to_do_it_by_hand(km, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    msg = one_line_error(km.run("tls", "enroll", "ca-host", extra_env={"PATH": str(empty)}), rc=1)
    assert "`ssh` is not on PATH" in msg
    assert "tls request" in msg and "tls sign" in msg and "tls install" in msg
    assert not tls_dir(km).exists()
    assert "invalid CA host" in one_line_error(km.run("tls", "enroll", "--", "-oProxyCommand=x"), rc=2)


# ------------------------------------------------- the Zenoh TLS block


def test_zenoh_tls_block_and_common_name(tmp_path):
    ca = lib_settings(tmp_path / "ca")
    peer = lib_settings(tmp_path / "peer", "alice")
    with pytest.raises(TlsError, match="no TLS certificate installed"):
        pki.zenoh_tls_block(peer)
    pki.init_ca(ca)
    pki.install(peer, pki.sign(ca, pki.request(peer, ["127.0.0.1"]).block).block)
    peer = lib_settings(tmp_path / "peer", "alice")
    block = pki.zenoh_tls_block(peer)
    tls = peer.state_dir.absolute() / "tls"
    assert block == {
        "root_ca_certificate": str(tls / "ca.crt"),
        "listen_private_key": str(tls / "peer.key"),
        "listen_certificate": str(tls / "peer.crt"),
        "connect_private_key": str(tls / "peer.key"),
        "connect_certificate": str(tls / "peer.crt"),
        "enable_mtls": True,
        "verify_name_on_connect": True,
    }
    assert pki.peer_common_name(peer) == "alice"
    doc = pki.with_tls({"transport": {"link": {"tx": {"lease": 3000}}}}, peer)
    assert doc["transport"]["link"] == {"tx": {"lease": 3000}, "tls": block}
    (tls / "peer.crt").unlink()
    with pytest.raises(TlsError, match="does not exist"):
        pki.zenoh_tls_block(peer)
    assert issubclass(TlsError, KiokuError) and not issubclass(TlsError, ValidationError)


# ------------------------------------------- real Zenoh sessions over mTLS

OPEN_TIMEOUT_MS = 3000  # bounds zenoh's own wait for a link that never completes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _enrolled(root: Path, ca: Settings, name: str, sans: list[str]) -> Settings:
    node = lib_settings(root / name, name)
    pki.install(node, pki.sign(ca, pki.request(node, sans).block).block)
    return lib_settings(root / name, name)


def _zenoh_config(role: str, endpoint: str, tls: dict | None) -> zenoh.Config:
    from kioku_mesh.mesh.config import MeshConfig, zenoh_config

    cfg = MeshConfig(role=role, listen=[endpoint] if role == "hub" else [],
                     connect=[endpoint] if role == "spoke" else [])
    doc = zenoh_config(cfg)
    doc["transport"]["unicast"] = {"open_timeout": OPEN_TIMEOUT_MS}
    if tls is not None:
        doc["transport"]["link"]["tls"] = tls
    return zenoh.Config.from_json5(json.dumps(doc))


@pytest.fixture(scope="module")
def mesh_pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtls")
    ca = lib_settings(root / "ca")
    pki.init_ca(ca)
    rogue_ca = lib_settings(root / "rogue-ca")
    pki.init_ca(rogue_ca, cn="rogue CA")
    return {
        "hub": _enrolled(root, ca, "hub", ["127.0.0.1", "localhost"]),
        "dns-only-hub": _enrolled(root, ca, "dnshub", ["hub.lan"]),
        "alice": _enrolled(root, ca, "alice", ["alice.lan"]),
        "mallory": _enrolled(root, rogue_ca, "mallory", ["127.0.0.1"]),
    }


def _try_link(hub_tls: dict, client_tls: dict | None, host: str = "127.0.0.1") -> tuple[str, float]:
    """Open a router on tls/127.0.0.1 and a client dialing it.

    Returns ("connected" | "refused" | "silent", seconds the client's open took):
    connected = a put from the client reached the router's subscriber."""
    port = _free_port()
    router = client = None
    got = threading.Event()
    try:
        router = zenoh.open(_zenoh_config("hub", f"tls/127.0.0.1:{port}", hub_tls))
        sub = router.declare_subscriber("kioku/tlstest/**", lambda sample: got.set())
        start = time.monotonic()
        try:
            client = zenoh.open(_zenoh_config("spoke", f"tls/{host}:{port}", client_tls))
        except zenoh.ZError:
            return "refused", time.monotonic() - start
        elapsed = time.monotonic() - start
        deadline = time.monotonic() + 5
        while not got.is_set() and time.monotonic() < deadline:
            client.put("kioku/tlstest/ping", b"hello")
            got.wait(0.1)
        sub.undeclare()
        return ("connected" if got.is_set() else "silent"), elapsed
    finally:
        if client is not None:
            client.close()
        if router is not None:
            router.close()


def test_zenoh_mtls_connects_with_certs_from_this_pki(mesh_pki):
    hub = pki.zenoh_tls_block(mesh_pki["hub"])
    alice = pki.zenoh_tls_block(mesh_pki["alice"])
    assert _try_link(hub, alice, "127.0.0.1")[0] == "connected"  # IP SAN
    assert _try_link(hub, alice, "localhost")[0] == "connected"  # DNS SAN


def test_zenoh_mtls_refuses_rogue_and_certless_clients(mesh_pki):
    hub = pki.zenoh_tls_block(mesh_pki["hub"])
    ca_file = hub["root_ca_certificate"]
    rogue = pki.zenoh_tls_block(mesh_pki["mallory"])
    cases = {
        # A certificate from another CA, even trusting the real CA to get past the server check.
        "rogue cert": {**rogue, "root_ca_certificate": ca_file},
        # Trusts the real CA, sends no certificate (with and without asking for mTLS).
        "no cert": {"root_ca_certificate": ca_file, "verify_name_on_connect": True},
        "no cert, mtls on": {"root_ca_certificate": ca_file, "enable_mtls": True},
        # The client's own cert is fine but it does not trust the hub's CA.
        "rogue trust": {**pki.zenoh_tls_block(mesh_pki["alice"]),
                        "root_ca_certificate": rogue["root_ca_certificate"]},
    }
    for name, client_tls in cases.items():
        outcome, elapsed = _try_link(hub, client_tls)
        assert outcome == "refused", name
        assert elapsed < OPEN_TIMEOUT_MS / 1000 + 2, (name, elapsed)


def test_zenoh_verifies_the_dialed_name_against_the_sans(mesh_pki):
    dns_hub = pki.zenoh_tls_block(mesh_pki["dns-only-hub"])
    alice = pki.zenoh_tls_block(mesh_pki["alice"])
    # 127.0.0.1 is not among the hub's SANs (hub.lan): refused, although the CA is right.
    assert _try_link(dns_hub, alice, "127.0.0.1")[0] == "refused"
    assert _try_link(dns_hub, {**alice, "verify_name_on_connect": False}, "127.0.0.1")[0] == "connected"


def test_encoded_blocks_are_plain_base64():
    der = b"\x30\x03\x02\x01\x01"
    assert blocks.dearmor(blocks.armor(blocks.BUNDLE, [blocks.pem("CERTIFICATE", der)], ["x"]),
                          blocks.BUNDLE) == [("CERTIFICATE", der)]
    assert base64.b64encode(der).decode() in blocks.pem("CERTIFICATE", der)


def test_install_warns_when_cn_is_not_the_user_id(pair):
    ca_env, peer = pair
    res = peer.run("tls", "install", input=sign(ca_env, request(peer, "--san", "a.lan", "--cn", "bob")),
                   check=True)
    assert "warning" in res.stderr and "'bob'" in res.stderr and "'alice'" in res.stderr
