"""Properties over generated input (hypothesis): signatures round-trip, nothing crashes.

Every property runs for every built-in scheme where it concerns schemes, and
counts its examples (``figures.py``) for the terminal summary.
"""

from __future__ import annotations

import base64
import hmac
import io
import json
import time

import figures
import pytest
from conftest import TEST_SECRET, VALID_SAMPLES, Invwh
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from inventory_cli.errors import InputError
from inventory_cli.events.validation import event_types
from inventory_cli.signing.schemes import BUILTIN_SCHEMES, HASHES, SCHEME_FIELDS, CompiledScheme, Scheme
from inventory_cli.signing.signatures import Secret, encoded, key_for, keyed_hmac, make_signature, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import ReceivedDelivery
from inventory_cli.workflows.recording import (
    BadLine,
    Recorded,
    _parse_checked,
    encode_line,
    parse_line,
    read_recording,
)
from inventory_cli.workflows.verdict import judge

SCHEMES = list(BUILTIN_SCHEMES)
#: The notification URL signed for and checked against: only a scheme that signs it (square) reads it.
URL = "https://receiver.example/webhooks"
#: The Scheme fields the generators below know how to feed. A new field may
#: need inputs of a new form: the guard test says so rather than guessing.
KNOWN_FIELDS = {
    "name",
    "summary",
    "signature_header",
    "hash",
    "encoding",
    "value_template",
    "message_template",
    "timestamp_header",
    "timestamp_template",
    "signature_separator",
    "id_header",
    "id_prefix",
    "secret_encoding",
    "secret_prefix",
    "header_aliases",
    "_parts",
}

CORE = settings(max_examples=300, deadline=None, database=None)
CLI = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Text that can be a secret: anything but lone surrogates (argv, files and the environment give UTF-8).
secret_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64).filter(str.strip)
whitespace = st.text(st.sampled_from([chr(c) for c in range(0x3000 + 1) if chr(c).isspace()]), max_size=8)
timestamps = st.integers(min_value=0, max_value=10**12 - 1)
methods = st.text("!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)


def secrets_for(scheme: Scheme) -> st.SearchStrategy[str]:
    """Secrets in the form the scheme takes: its encoded form when it has one, and plain text."""
    encoding = getattr(scheme, "secret_encoding", "utf8")
    prefix = getattr(scheme, "secret_prefix", "")
    raw = st.binary(min_size=1, max_size=64)
    forms = (
        [secret_text, secret_text.map(lambda text: prefix + text)] if encoding == "utf8" else [secret_text]
    )
    if encoding == "base64":
        forms.append(raw.map(lambda key: prefix + base64.b64encode(key).decode("ascii")))
    elif encoding == "hex":
        forms.append(raw.map(lambda key: prefix + key.hex()))
    return st.one_of(forms)


def header_placeholders(scheme: Scheme) -> list[str]:
    return [
        text[len("header:") :]
        for is_placeholder, text in scheme.message_parts
        if is_placeholder and text.startswith("header:")
    ]


def test_the_properties_know_every_scheme_field():
    unknown = {"name", *SCHEME_FIELDS} - KNOWN_FIELDS
    assert not unknown, (
        f"Scheme has new fields {sorted(unknown)}: teach tests/test_properties.py "
        "(secrets_for and the sign/check properties) to generate inputs for them"
    )


# --- signatures ------------------------------------------------------------


@pytest.mark.parametrize("scheme_name", SCHEMES)
@CORE
@given(data=st.data(), body=st.binary(max_size=2048), timestamp=timestamps, method=methods)
def test_sign_then_check_holds(scheme_name, data, body, timestamp, method):
    figures.example(f"sign-then-check[{scheme_name}]")
    scheme = BUILTIN_SCHEMES[scheme_name]
    secret = Secret(data.draw(secrets_for(scheme), label="secret"))
    extra = {name: data.draw(header_text, label=name) for name in header_placeholders(scheme)}
    event("secret refused" if key_for(scheme, secret) is None else "secret taken")
    if key_for(scheme, secret) is None:  # not in the scheme's form: refused, never a crash
        with pytest.raises(InputError, match="not in the form"):
            sign(scheme, secret, body, method=method, timestamp=timestamp, headers=extra, url=URL)
        return
    headers = {
        **extra,
        **sign(scheme, secret, body, method=method, timestamp=timestamp, headers=extra, url=URL),
    }
    check = check_signature(scheme, [secret], body, headers, method=method, tolerance=0, url=URL)
    assert (check.ok, check.reason, check.secret_index) == (True, "ok", 0), check.message
    if scheme.uses_timestamp:
        assert check.timestamp == timestamp
        fresh = check_signature(
            scheme, [secret], body, headers, method=method, tolerance=300, now=timestamp + 299, url=URL
        )
        assert fresh.ok, fresh.message
        stale = check_signature(
            scheme, [secret], body, headers, method=method, tolerance=300, now=timestamp + 301, url=URL
        )
        assert (stale.ok, stale.reason, stale.signature_ok) == (False, "stale_timestamp", True)
    rotated = check_signature(
        scheme, [Secret("a-retired-key"), secret], body, headers, method=method, tolerance=0, url=URL
    )
    assert (rotated.ok, rotated.secret_index) == (True, 1)
    if scheme.header_aliases:  # the same delivery under the aliases (Svix's names) holds too
        alias_of = {header.lower(): alias for alias, header in scheme.header_aliases}
        aliased = {alias_of.get(name.lower(), name): value for name, value in headers.items()}
        assert aliased != headers
        check = check_signature(scheme, [secret], body, aliased, method=method, tolerance=0, url=URL)
        assert (check.ok, check.reason) == (True, "ok"), check.message


@pytest.mark.parametrize("hash_name", HASHES)
@CORE
@given(key=st.binary(min_size=1, max_size=300), message=st.binary(max_size=1024))
def test_the_key_set_up_once_gives_the_hmac_of_the_standard_library(hash_name, key, message):
    """The HMAC keyed once and copied per message (``make_signature``) is ``hmac.digest`` of it,
    for every hash, every key length (past the block size too) and the same HMAC used twice."""
    figures.example(f"keyed-mac-is-hmac[{hash_name}]")
    form = CompiledScheme(
        Scheme("k", "", "X-Sig", hash=hash_name, encoding="hex", value_template="v1={digest}")
    )
    mac = keyed_hmac(form, key)
    expected = b"v1=" + encoded("hex", hmac.digest(key, message, hash_name))
    assert make_signature(form, mac, message) == expected
    assert make_signature(form, mac, message) == expected  # the keyed HMAC is copied, never used up


@pytest.mark.parametrize("scheme_name", SCHEMES)
@CORE
@given(data=st.data(), body=st.binary(min_size=1, max_size=512), timestamp=timestamps)
def test_any_change_to_the_bytes_or_the_secret_breaks_the_signature(scheme_name, data, body, timestamp):
    figures.example(f"tampering-detected[{scheme_name}]")
    scheme = BUILTIN_SCHEMES[scheme_name]
    secret = Secret(data.draw(secrets_for(scheme), label="secret"))
    if key_for(scheme, secret) is None:
        return
    headers = sign(scheme, secret, body, timestamp=timestamp, url=URL)
    position = data.draw(st.integers(0, len(body) - 1), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    tampered = body[:position] + bytes([body[position] ^ (1 << bit)]) + body[position + 1 :]
    check = check_signature(scheme, [secret], tampered, headers, tolerance=0, url=URL)
    assert (check.ok, check.reason) == (False, "signature_mismatch")
    other = Secret("another-" + data.draw(secret_text, label="other"))
    if key_for(scheme, other) not in (None, key_for(scheme, secret)):
        check = check_signature(scheme, [other], body, headers, tolerance=0, url=URL)
        assert (check.ok, check.reason) == (False, "signature_mismatch")


@CORE
@given(text=whitespace)
def test_a_blank_secret_is_refused(text):
    figures.example("blank-secret-refused")
    with pytest.raises(InputError, match="the secret is empty"):
        Secret(text)


@CORE
@given(text=st.text(st.characters(exclude_categories=[]), min_size=1, max_size=32))
def test_a_secret_is_taken_or_refused_never_a_crash(text):
    figures.example("secret-taken-or-refused")
    try:
        secret = Secret(text)
    except InputError as error:
        assert "secret" in str(error)
        assert not text.strip() or any("\ud800" <= c <= "\udfff" for c in text)
        return
    assert secret.key == text.encode("utf-8")
    assert repr(secret) == str(secret) == "Secret(****)"


@pytest.mark.parametrize("scheme_name", SCHEMES)
@CORE
@given(
    body=st.binary(max_size=512),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=6),
    signature=st.text(max_size=200),
    now=st.floats(min_value=-1e12, max_value=1e13, allow_nan=False),
    tolerance=st.integers(0, 10**6),
)
def test_checking_never_raises_on_any_header(scheme_name, body, headers, signature, now, tolerance):
    figures.example(f"check-never-raises[{scheme_name}]")
    scheme = BUILTIN_SCHEMES[scheme_name]
    received = {**headers, scheme.signature_header: signature}
    # judge runs check_signature and, on a failure, diagnosis.explain: neither may raise.
    verdict = judge(
        scheme, [Secret(TEST_SECRET)], body, received, tolerance=tolerance, now=now, url=URL, validate=False
    )
    check = verdict.signature
    assert check.reason != "ok" or check.ok
    assert isinstance(check.message, str) and all(isinstance(h.text, str) for h in verdict.hints)


# --- the commands never raise -------------------------------------------------

RUN = Invwh(env={"INVWH_SECRET": TEST_SECRET})
ERROR_PREFIX = "invwh: error: "

names = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
#: The headers some scheme reads, so that generated values reach the checks too.
scheme_headers = sorted(
    {
        name
        for scheme in BUILTIN_SCHEMES.values()
        for name in (
            scheme.signature_header,
            scheme.timestamp_header,
            getattr(scheme, "id_header", None),
            *(alias for alias, _ in getattr(scheme, "header_aliases", ())),
        )
        if name
    }
)
well_formed = st.tuples(st.sampled_from(scheme_headers) | names, st.text(max_size=80)).map(
    lambda pair: f"{pair[0]}: {pair[1]}"
)
header_lines = st.one_of(well_formed, well_formed, well_formed, st.text(max_size=60))  # or anything
event_keys = [t.discriminator for t in event_types()] + ["sku", "quantityChange"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.sampled_from([t.name for t in event_types()]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.sampled_from([path.read_bytes() for path in VALID_SAMPLES]),
    st.binary(max_size=1024),
    st.dictionaries(st.sampled_from(event_keys), json_values, max_size=4).map(
        lambda d: json.dumps(d).encode()
    ),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def assert_one_error_line(stderr: str) -> None:
    """One error line, usage errors included (never click's Usage/Error form); only an invalid
    event's problems may follow it, indented."""
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1, stderr
    assert not any(line.startswith(("Usage:", "Error:", "Try ")) for line in lines), stderr


@CLI
@given(
    body=bodies,
    scheme_name=st.sampled_from(SCHEMES),
    extra=st.lists(header_lines, max_size=3),
    signed=st.booleans(),
    validate=st.booleans(),
    output_format=st.sampled_from(["text", "json"]),
)
def test_verify_never_raises(body, scheme_name, extra, signed, validate, output_format):
    figures.example("verify-never-raises")
    args = [
        "verify",
        "--body",
        "-",
        "--scheme",
        scheme_name,
        "--format",
        output_format,
        "--now",
        "1700000000",
    ]
    if not validate:
        args.append("--no-validate")
    if BUILTIN_SCHEMES[scheme_name].signs_url:
        args += ["--notification-url", URL]
    if signed:
        headers = sign(BUILTIN_SCHEMES[scheme_name], Secret(TEST_SECRET), body, timestamp=1700000000, url=URL)
        args += [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    for line in extra:
        args += ["-H", line]
    result = RUN(*args, input=body, code=(0, 1, 2))
    event(f"exit {result.code}")
    if result.code == 2:
        assert_one_error_line(result.stderr)
        return
    if output_format == "json":
        verdict = json.loads(result.stdout)
        assert verdict["valid"] is (result.code == 0)


@CLI
@given(body=bodies, output_format=st.sampled_from(["text", "json"]))
def test_validate_never_raises(body, output_format):
    figures.example("validate-never-raises")
    result = RUN("validate", "-", "--format", output_format, input=body, code=(0, 1))
    event(f"exit {result.code}")
    if output_format == "json":
        (checked,) = json.loads(result.stdout)["files"]
        assert checked["valid"] is (result.code == 0)
    else:
        assert result.stdout.startswith(("✓ <stdin>", "✗ <stdin>"))


# --- recordings ---------------------------------------------------------------

record_keys = [
    "received_at", "received_at_unix", "method", "path", "headers",
    "body", "body_encoding", "verdict", "status", "body_read",
]  # fmt: skip
RECORD_FIELDS = {
    "received_at": st.text(max_size=30),
    "received_at_unix": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
    "method": methods,
    "path": header_text,
    "headers": st.dictionaries(names, header_text, max_size=3),
    "verdict": st.none() | st.fixed_dictionaries({"valid": st.booleans(), "reason": st.text(max_size=9)}),
    "status": st.integers(100, 599),
    "body_read": st.booleans(),
}


@st.composite
def record_like(draw: st.DrawFn) -> bytes:
    """A recording's line: well-typed fields, and maybe one of them replaced by any JSON value."""
    record = draw(st.fixed_dictionaries({}, optional=RECORD_FIELDS))
    body = draw(st.binary(max_size=40))
    if draw(st.booleans()):
        record |= {"body": body.decode("utf-8", "replace"), "body_encoding": "utf-8"}
    else:
        record |= {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}
    if draw(st.booleans()):
        record[draw(st.sampled_from(record_keys))] = draw(json_values)
    return json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    record_like(),
)


@CORE
@given(line=st.one_of(lines, st.text(max_size=200)))
def test_parse_line_never_raises(line):
    figures.example("parse-line-never-raises")
    parsed = parse_line(line, 7)
    event(type(parsed).__name__)
    assert parsed is None or isinstance(parsed, (Recorded, BadLine))
    if parsed is not None:
        assert parsed.line == 7


#: One member of each JSON kind, and the edges of the kinds a record's members take.
ODD_VALUES = [None, True, False, 0, 1, -1, 2**70, 1.5, 0.0, 1e300, "", "x", "base64", [], {}, {"a": 1}, ["x"]]
odd_values = st.sampled_from(ODD_VALUES)


def test_each_member_of_each_kind_is_read_alike_by_both_paths():
    """Every member of a line, given a value of each kind: the fast path's record or reason is
    the general path's (the property below draws such lines; this tries them all)."""
    base = {"body": "e30=", "body_encoding": "base64", "method": "POST", "path": "/webhooks",
            "headers": {"X-Timestamp": "1"}, "status": 200, "received_at_unix": 1.5,
            "received_at": "2026-11-27T14:03:22.123Z", "verdict": None, "body_read": True}  # fmt: skip
    for key in [*record_keys, "forward"]:
        for value in ODD_VALUES:
            text = json.dumps({**base, key: value})
            assert repr(parse_line(text, 1)) == repr(_parse_checked(text, 1)), text  # 1.0 is not 1


@st.composite
def mistyped_record(draw: st.DrawFn) -> bytes:
    """A recording's line with one member (or the body's text) given a value of any kind."""
    record = json.loads(draw(record_like()))
    record[draw(st.sampled_from([*record_keys, "forward"]))] = draw(odd_values | odd_values | json_values)
    return json.dumps(record).encode()


@settings(CORE, max_examples=2000)  # a mistyped member is one of eleven, its kind one of many
@given(line=st.one_of(lines, record_like(), mistyped_record(), mistyped_record()))
def test_a_line_read_by_msgspec_is_what_the_checks_in_turn_make_of_it(line):
    """parse_line's fast path (msgspec into a typed struct) finds the record, or the reason,
    that the general path (one parse, then each member's type checked in Python) finds."""
    figures.example("parse-line-fast-path-agrees")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return  # refused before either path: the first test of parse_line
    general = _parse_checked(text, 3)
    event(type(general).__name__)
    assert repr(parse_line(line, 3)) == repr(general)  # repr: a float 1.0 is not the integer 1
    assert repr(parse_line(text, 3)) == repr(general)


@CORE
@given(chunks=st.lists(lines, max_size=12))
def test_read_recording_never_raises_and_skips_only_blank_lines(chunks):
    figures.example("read-recording-never-raises")
    stream = b"\n".join(chunks)
    read = list(read_recording(io.BytesIO(stream)))
    assert all(isinstance(item, (Recorded, BadLine)) for item in read)

    def blank(raw: bytes) -> bool:
        try:
            return not raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return False

    numbered = [n for n, raw in enumerate(stream.split(b"\n"), 1) if not blank(raw)]
    assert [item.line for item in read] == numbered


@CORE
@given(
    body=st.binary(max_size=2048),
    headers=st.dictionaries(names, header_text, max_size=5),
    method=methods,
    path=header_text.map(lambda p: "/" + p),
    status=st.integers(100, 599),
)
def test_a_recorded_body_reads_back_byte_for_byte(body, headers, method, path, status):
    figures.example("recording-round-trip")
    delivery = ReceivedDelivery(1700000000.25, method, path, headers, body, None, status)
    line = encode_line(delivery)
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # one whole line, whatever the body
    recorded = parse_line(line, 1)
    assert isinstance(recorded, Recorded)
    assert (recorded.body, recorded.headers, recorded.method, recorded.path) == (body, headers, method, path)
    assert recorded.status == status


@CORE
@given(text=secret_text, prefixed=st.booleans())
def test_a_standard_webhooks_key_is_the_reference_librarys_or_refused_as_it_refuses(text, prefixed):
    """``standardwebhooks.Webhook`` is the reference: the same key for every secret it takes, and
    a refusal (exit 2) for every one it raises on; never the text's UTF-8 bytes in its place."""
    import standardwebhooks

    from inventory_cli.signing.schemes import STANDARD_WEBHOOKS

    figures.example("standard-webhooks-key-is-the-references")
    secret_text_given = ("whsec_" if prefixed else "") + text
    try:
        reference: bytes | None = standardwebhooks.Webhook(secret_text_given)._whsecret
    except Exception:  # binascii.Error, EmptyWebhookSecretError, ValueError for text beyond ASCII
        reference = None
    event("refused" if reference is None else "taken")
    assert key_for(STANDARD_WEBHOOKS, Secret(secret_text_given)) == reference


# --- the Python API: arguments checked at the call, any header a verdict ----------------------

#: Anything a caller might pass for a number of seconds, the non-finite ones included.
any_number_like = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**15), 10**15),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)


@CORE
@given(tolerance=any_number_like, now=any_number_like)
def test_the_api_takes_a_number_or_refuses_it_and_never_switches_the_age_check_off(tolerance, now):
    from inventory_cli.api import sign_headers, verify

    figures.example("api-numbers-checked-at-the-call")
    body = b'{"k": 1}'
    headers = sign_headers(body, secret=TEST_SECRET, timestamp=1_700_000_000)
    started = time.time()
    try:
        verdict = verify(body, headers, secret=TEST_SECRET, tolerance=tolerance, now=now, validate=False)
    except (TypeError, ValueError):
        event("refused")
        return
    event("taken")
    assert not isinstance(tolerance, bool) and not isinstance(now, bool)
    assert isinstance(tolerance, (int, float)) and 0 <= tolerance < float("inf")

    def within(age: float) -> bool:
        return tolerance == 0 or abs(age) <= tolerance

    if now is None:
        # The clock: the call read it somewhere in [started, now], each rounded either way. A
        # tolerance that falls inside that window could go either way, and says nothing.
        ended = time.time()
        assume(within(started - 1 - 1_700_000_000) == within(ended + 1 - 1_700_000_000))
        now = ended
    expected_ok = within(now - 1_700_000_000)
    assert verdict.valid is expected_ok, (tolerance, now, verdict.reason)


header_value_any = st.one_of(
    st.text(st.characters(), max_size=40),  # surrogates included: what odd decoding leaves
    st.binary(max_size=40),
    st.none(),
)
api_header_names = st.sampled_from(scheme_headers) | names


@pytest.mark.parametrize("scheme_name", SCHEMES)
@CORE
@given(
    pairs=st.lists(st.tuples(api_header_names, header_value_any), max_size=8),
    as_bytes=st.booleans(),
    body=st.binary(max_size=64),
)
def test_the_api_gives_a_verdict_for_any_header_value(scheme_name, pairs, as_bytes, body):
    from inventory_cli.api import verify

    figures.example(f"api-any-header-a-verdict[{scheme_name}]")
    secret = (
        "whsec_" + base64.b64encode(b"an-api-property-key").decode()
        if scheme_name == "standard-webhooks"
        else TEST_SECRET
    )
    given = [(name.encode() if as_bytes else name, value) for name, value in pairs]
    verdict = verify(body, given, secret=secret, scheme=scheme_name, url=URL, now=1_700_000_000)
    assert isinstance(verdict.reason, str) and isinstance(verdict.valid, bool)


@pytest.mark.parametrize("scheme_name", SCHEMES)
@CORE
@given(
    body=st.binary(max_size=256),
    extra=st.dictionaries(names.map(lambda n: "X-Extra-" + n), header_text, max_size=4),
    form=st.sampled_from(["mapping", "pairs", "asgi"]),
    upper=st.booleans(),
)
def test_the_api_gives_the_same_verdict_whatever_form_the_headers_come_in(
    scheme_name, body, extra, form, upper
):
    from inventory_cli.api import sign_headers, verify

    figures.example(f"api-header-forms-agree[{scheme_name}]")
    secret = (
        "whsec_" + base64.b64encode(b"an-api-property-key").decode()
        if scheme_name == "standard-webhooks"
        else TEST_SECRET
    )
    signed = {
        **extra,
        **sign_headers(body, secret=secret, scheme=scheme_name, url=URL, timestamp=1_700_000_000),
    }
    pairs = [(name.upper() if upper else name, value) for name, value in signed.items()]
    given: object = {
        "mapping": dict(pairs),
        "pairs": pairs,
        "asgi": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs],
    }[form]
    verdict = verify(body, given, secret=secret, scheme=scheme_name, url=URL, tolerance=0, validate=False)  # type: ignore[arg-type]
    assert (verdict.valid, verdict.reason) == (True, "ok")


# --- the forms of a secret that are redacted ---------------------------------------


@given(
    key=st.binary(min_size=6, max_size=48),
    prefixed=st.booleans(),
    url_safe=st.booleans(),
)
@settings(max_examples=300)
def test_every_base64_and_hex_form_of_a_secret_is_redacted(key, prefixed, url_safe):
    """What remember_secret hides, checked against the base64 module (it uses binascii itself)."""
    from inventory_cli.text import forget_secrets, remember_secret, secret_forms

    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    # whsec_ keys are standard base64 (standard-webhooks): the key is what follows the last "_".
    secret = f"whsec_{base64.b64encode(key).decode()}" if prefixed else encode(key).decode()
    forget_secrets()
    try:
        remember_secret(secret)
        forms = set(secret_forms())
        raw = secret.encode()
        expected = {
            raw.hex(),
            raw.hex().upper(),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
        }
        if prefixed:  # the key after the prefix is hidden too, in every encoding
            expected |= {key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()}
        expected = {form for form in expected | {form.rstrip("=") for form in expected} if len(form) >= 8}
        assert expected <= forms
    finally:
        forget_secrets()


every_json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too: json writes them as NaN, Infinity, -Infinity
    | st.text(),  # any code point, control characters and lone surrogates included
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.dictionaries(st.integers() | st.floats() | st.booleans() | st.none(), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(every_json_value)
def test_each_json_line_is_what_json_dumps_writes(value):
    """``cli/output/json.py`` builds the C encoder once rather than per line: the text is the same."""
    from inventory_cli.cli.output.json import dumps

    figures.example("json-line-is-json-dumps")
    assert dumps(value) == json.dumps(value, ensure_ascii=False)
