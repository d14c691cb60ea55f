"""Copy-paste blocks: PEM objects between clear kioku-mesh marker lines.

    === BEGIN kioku-mesh certificate request ===
    # comment lines (not trusted: the reader re-derives everything)
    -----BEGIN CERTIFICATE REQUEST-----
    ...
    -----END CERTIFICATE REQUEST-----
    === END kioku-mesh certificate request ===

Reading is forgiving about what terminals and chat tools do to pasted text
(indentation, CRLF, text around the block) and strict about the rest: the
wrong kind of block, a cut-off block, bad base64 or any private key is an error.
"""

from __future__ import annotations

import base64
import binascii
import re
import textwrap

from ..core.errors import ValidationError

REQUEST = "certificate request"
BUNDLE = "certificate bundle"
MAX_INPUT = 256 * 1024

_MARKER = re.compile(r"^=== (BEGIN|END) kioku-mesh ([a-z ]+?) ===$")
_PEM_BEGIN = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----$")
_PEM_END = re.compile(r"^-----END ([A-Z0-9 ]+)-----$")
_NEXT_STEP = {
    REQUEST: "on the CA host: kioku-mesh tls sign",
    BUNDLE: "on the requesting host: kioku-mesh tls install",
}


def armor(kind: str, pems: list[str], comments: list[str]) -> str:
    lines = [f"=== BEGIN kioku-mesh {kind} ==="]
    lines += [f"# {c}" for c in comments]
    lines += [p.strip() for p in pems]
    lines.append(f"=== END kioku-mesh {kind} ===")
    return "\n".join(lines) + "\n"


def pem(label: str, der: bytes) -> str:
    body = textwrap.wrap(base64.b64encode(der).decode("ascii"), 64)
    return "\n".join([f"-----BEGIN {label}-----", *body, f"-----END {label}-----"])


def dearmor(text: str, kind: str) -> list[tuple[str, bytes]]:
    """The (label, DER) PEM objects of the `kind` block in `text`.

    Without marker lines the whole text is read as PEM (e.g. a CSR made by
    openssl)."""
    if len(text) > MAX_INPUT:
        raise ValidationError(f"input too large for a {kind} ({len(text)} characters)")
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    if any("PRIVATE KEY" in m.group(1) for m in map(_PEM_BEGIN.match, lines) if m):
        raise ValidationError("the input contains a PRIVATE KEY: never copy a private key off its "
                              f"host; paste only the {kind} block")
    begin = next((i for i, line in enumerate(lines) if _MARKER.match(line)), None)
    if begin is not None:
        m = _MARKER.match(lines[begin])
        assert m is not None
        found = m.group(2)
        if m.group(1) != "BEGIN":
            raise ValidationError(f"the {found} block is cut short: its BEGIN line is missing "
                                  "(copy the whole block, marker lines included)")
        if found != kind:
            hint = _NEXT_STEP.get(found)
            raise ValidationError(f"this is a kioku-mesh {found}, not a {kind}"
                                  + (f" (it goes to `{hint}`)" if hint else ""))
        end = f"=== END kioku-mesh {kind} ==="
        try:
            stop = lines.index(end, begin + 1)
        except ValueError:
            raise ValidationError(f"the {kind} block is cut short: its END line is missing "
                                  "(copy the whole block, marker lines included)") from None
        lines = lines[begin + 1:stop]
    objects = _pem_objects(lines, kind)
    if not objects:
        raise ValidationError(f"no {kind} found in the input (expected the block printed by "
                              f"`kioku-mesh tls {'request' if kind == REQUEST else 'sign'}`)")
    return objects


def _pem_objects(lines: list[str], kind: str) -> list[tuple[str, bytes]]:
    objects: list[tuple[str, bytes]] = []
    label: str | None = None
    body: list[str] = []
    for line in lines:
        if label is None:
            m = _PEM_BEGIN.match(line)
            if m:
                label, body = m.group(1), []
            continue
        m = _PEM_END.match(line)
        if m:
            if m.group(1) != label:
                raise ValidationError(f"malformed {kind}: BEGIN {label} ends with END {m.group(1)}")
            try:
                der = base64.b64decode("".join(body), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(f"malformed {kind}: {label} is not valid base64 "
                                      "(was the block altered when copied?)") from None
            objects.append((label, der))
            label = None
        elif line:
            body.append(line)
    if label is not None:
        raise ValidationError(f"the {kind} is cut short: END {label} is missing")
    return objects
