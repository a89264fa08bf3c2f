"""The Python API (``inventory_cli.__all__``): the same answers as the commands, on the same bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import inspect
import json
import subprocess
import sys
import time

import pytest
from conftest import HYGIENE, SAMPLES, TEST_SECRET, VALID_SAMPLES, sign_in_a_fresh_process
from hygiene import register_secret

import inventory_cli
from inventory_cli import (
    BUILTIN_SCHEMES,
    InputError,
    Secret,
    UnknownSchemeError,
    Verdict,
    check_event,
    event_body,
    get_scheme,
    new_event,
    sign_headers,
    verify,
)

MINIMAL = (SAMPLES / "minimal-increase.json").read_bytes()
KNOWN_SIGNATURE = (
    "v1=B4XUvFJvAFbOv52stVfig7fj7TUdr4AYb1FLKefIOdrwGn6XtiqDTKtFygFM+DY1Kf8oFNN29Iu59Wci2znpYg=="
)
STAMP = 1_700_000_000
#: A secret in the form every built-in scheme takes (standard-webhooks wants whsec_ and base64).
WHSEC = "whsec_" + base64.b64encode(b"the-api-tests-key-0123").decode()
register_secret(WHSEC)


def secret_for(scheme_name: str) -> str:
    return WHSEC if scheme_name == "standard-webhooks" else TEST_SECRET


def test_sign_headers_gives_the_known_answer_and_what_invwh_sign_prints(invwh):
    headers = sign_headers(MINIMAL, secret="s3cret", timestamp=STAMP)
    assert headers == {
        "Content-Type": "application/json",
        "X-Timestamp": str(STAMP),
        "X-Webhook-Signature": KNOWN_SIGNATURE,
    }
    printed = invwh("sign", SAMPLES / "minimal-increase.json", "--timestamp", STAMP, "--format", "json",
                    env={"INVWH_SECRET": "s3cret"}).json  # fmt: skip
    assert printed["headers"] == headers


def test_the_signature_is_the_hmac_of_the_exact_bytes():
    body = '{"sku": "Café crème"}\n'.encode()
    headers = sign_headers(body, secret=TEST_SECRET, timestamp=STAMP, method="put")
    digest = hmac.new(TEST_SECRET.encode(), b"PUT|%d|" % STAMP + body, hashlib.sha512).digest()
    assert headers["X-Webhook-Signature"] == "v1=" + base64.b64encode(digest).decode()


@pytest.mark.parametrize("scheme_name", list(BUILTIN_SCHEMES))
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_what_sign_headers_signs_verify_accepts(sample, scheme_name):
    body = sample.read_bytes()
    secret = secret_for(scheme_name)
    # A scheme that signs the notification URL (square) needs it on both sides.
    url = "https://example.com/webhooks" if BUILTIN_SCHEMES[scheme_name].signs_url else None
    headers = sign_headers(body, secret=secret, scheme=scheme_name, url=url)
    verdict = verify(body, headers, secret=secret, scheme=scheme_name, url=url)
    assert isinstance(verdict, Verdict)
    assert (verdict.valid, verdict.reason, verdict.hints) == (True, "ok", [])
    assert verdict.event_type == check_event(body).event_type
    # The names as a client library may deliver them: any case.
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify(body, lowered, secret=secret, scheme=scheme_name, url=url).valid


def test_a_scheme_object_and_a_secret_object_are_taken_too():
    scheme = get_scheme("github")
    headers = sign_headers(MINIMAL, secret=Secret(TEST_SECRET), scheme=scheme)
    assert set(headers) == {"Content-Type", "X-Hub-Signature-256"}
    assert verify(MINIMAL, headers, secret=Secret(TEST_SECRET), scheme=scheme).valid


def test_verify_names_the_likely_cause_as_invwh_verify_does(invwh, tmp_path):
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP)
    received = MINIMAL + b"\n"  # an editor added a newline after signing
    verdict = verify(received, headers, secret=TEST_SECRET, now=STAMP + 5)
    assert (verdict.valid, verdict.reason) == (False, "signature_mismatch")
    assert [str(hint) for hint in verdict.hints] == [
        "the signature was made over the body without its trailing newline"
    ]
    path = tmp_path / "body.json"
    path.write_bytes(received)
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    reported = invwh("verify", "--body", path, *header_args, "--now", STAMP + 5, "--format", "json",
                     code=1, env={"INVWH_SECRET": TEST_SECRET}).json  # fmt: skip
    assert (reported["reason"], reported["hints"], reported["message"]) == (
        verdict.reason,
        [hint.text for hint in verdict.hints],
        verdict.message,
    )


def test_verify_checks_the_timestamps_age_against_the_tolerance():
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP)
    assert verify(MINIMAL, headers, secret=TEST_SECRET, now=STAMP + 300).valid
    stale = verify(MINIMAL, headers, secret=TEST_SECRET, now=STAMP + 301)
    assert (stale.valid, stale.reason, stale.signature.signature_ok) == (False, "stale_timestamp", True)
    assert verify(MINIMAL, headers, secret=TEST_SECRET, now=STAMP + 301, tolerance=600).valid
    assert verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=0).valid  # off: years later
    future = verify(MINIMAL, headers, secret=TEST_SECRET, now=STAMP - 400)
    assert future.reason == "future_timestamp"
    with pytest.raises(InputError, match="tolerance"):
        verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=-1)


def test_verify_takes_several_secrets_for_key_rotation():
    headers = sign_headers(MINIMAL, secret="old-secret")
    verdict = verify(MINIMAL, headers, secret=[TEST_SECRET, "old-secret"])
    assert (verdict.valid, verdict.signature.secret_index) == (True, 1)
    assert verify(MINIMAL, headers, secret=[TEST_SECRET]).reason == "signature_mismatch"
    with pytest.raises(InputError, match="at least one secret"):
        verify(MINIMAL, headers, secret=[])


def test_verify_judges_the_payload_unless_told_not_to():
    body = b'{"not": "an event"}'
    headers = sign_headers(body, secret=TEST_SECRET)
    verdict = verify(body, headers, secret=TEST_SECRET)
    assert (verdict.valid, verdict.reason, verdict.signature.ok) == (False, "invalid_payload", True)
    assert verdict.event is not None and verdict.event.problems
    unchecked = verify(body, headers, secret=TEST_SECRET, validate=False)
    assert (unchecked.valid, unchecked.event) == (True, None)


def test_verify_reports_missing_headers_without_raising():
    verdict = verify(MINIMAL, {}, secret=TEST_SECRET)
    assert (verdict.valid, verdict.reason) == (False, "missing_signature")
    only_signature = {"X-Webhook-Signature": KNOWN_SIGNATURE}
    assert verify(MINIMAL, only_signature, secret=TEST_SECRET).reason == "missing_timestamp"


@pytest.mark.parametrize("call", [sign_headers, lambda body, secret: verify(body, {}, secret=secret)])
def test_bad_arguments_raise_clear_errors(call):
    with pytest.raises(TypeError, match="bytes you send"):
        call(MINIMAL.decode(), secret=TEST_SECRET)
    with pytest.raises(InputError, match="the secret is empty"):
        call(MINIMAL, secret="  ")
    with pytest.raises(TypeError, match="a secret is text"):
        call(MINIMAL, secret=TEST_SECRET.encode())


def test_an_unknown_scheme_names_the_known_ones():
    with pytest.raises(UnknownSchemeError, match="known schemes: inventory-v1, ") as raised:
        sign_headers(MINIMAL, secret=TEST_SECRET, scheme="inventory-v2")
    assert TEST_SECRET not in str(raised.value)


@pytest.mark.parametrize("event_type", ["stock.increase", "stock.decrease", "stock.depleted"])
def test_new_event_is_a_fresh_valid_event(event_type):
    first, second = new_event(event_type), new_event(event_type)
    assert first["eventId"] != second["eventId"]
    body = event_body(first)
    assert check_event(body).event_type == event_type
    occurred = time.mktime(time.strptime(first["occurredAt"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(occurred - time.time()) < 5


def test_new_event_overrides_fields_and_dotted_keys_reach_into_objects():
    event = new_event("stock.decrease", sku="GASKET-RUB-12", quantityChange=-5,
                      **{"location.warehouseId": "WH-TEST-01", "note.author": "qa"})  # fmt: skip
    assert (event["sku"], event["quantityChange"]) == ("GASKET-RUB-12", -5)
    assert event["location"]["warehouseId"] == "WH-TEST-01"
    assert event["location"]["bin"]  # the rest of the object is kept
    assert event["note"] == {"author": "qa"}
    assert json.loads(event_body(event)) == event


def test_new_event_refuses_what_it_cannot_make():
    with pytest.raises(InputError, match=r"unknown event type 'stock\.moved'; the event types: stock\."):
        new_event("stock.moved")
    with pytest.raises(InputError, match="sku is not an object"):
        new_event("stock.increase", **{"sku.code": "X"})
    with pytest.raises(InputError, match=r"cannot set 'location\.'"):
        new_event("stock.increase", **{"location.": "X"})


def test_the_public_names_resolve_and_are_documented():
    assert sorted(inventory_cli.__all__) == dir(inventory_cli)
    for name in inventory_cli.__all__:
        value = getattr(inventory_cli, name)
        if callable(value):
            assert inspect.getdoc(value), f"inventory_cli.{name} has no docstring"
    for function in (sign_headers, verify, new_event):
        hints = inspect.signature(function)
        assert hints.return_annotation is not inspect.Signature.empty
        assert all(p.annotation is not inspect.Parameter.empty for p in hints.parameters.values())


#: The core's building blocks that the package root once re-exported (before it had an API).
CORE_NAMES = {
    "sign": "inventory_cli.signing.signatures",
    "check_signature": "inventory_cli.signing.verifier",
    "judge": "inventory_cli.workflows.verdict",
    "union_schema": "inventory_cli.events.validation",
    "DeliveryError": "inventory_cli.errors",
    "MissingSecretError": "inventory_cli.errors",
    "Deliverer": "inventory_cli.workflows.delivery",
    "DeliveryOptions": "inventory_cli.workflows.delivery",
    "DeliveryResult": "inventory_cli.workflows.delivery",
    "Receiver": "inventory_cli.workflows.receive",
    "ReceiverConfig": "inventory_cli.workflows.receive",
    "read_recording": "inventory_cli.workflows.recording",
}


@pytest.mark.parametrize("name", sorted(CORE_NAMES))
def test_the_root_offers_the_api_and_nothing_else(name):
    # The core's names live in their own modules; the package's face is __all__ alone.
    assert getattr(importlib.import_module(CORE_NAMES[name]), name)
    with pytest.raises(AttributeError, match=f"no attribute '{name}'"):
        getattr(inventory_cli, name)
    with pytest.raises(ImportError):
        exec(f"from inventory_cli import {name}", {})
    assert name not in inventory_cli.__all__


def test_the_version_is_public_and_written_once():
    from inventory_cli.version import __version__

    assert inventory_cli.__version__ == __version__
    assert "__version__" in inventory_cli.__all__


def test_importing_the_package_loads_nothing_else():
    """``invwh sign``'s start-up is benchmarked: the API must cost nothing until used, and
    the pytest plugin must never load outside pytest."""
    shown = sign_in_a_fresh_process(
        "import inventory_cli\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('inventory_cli') or m == 'pytest')",
        "loaded, sorted(m for m in ('pytest', 'inventory_cli.pytest_plugin', 'inventory_cli.api') "
        "if m in sys.modules)",
    )
    assert shown == "['inventory_cli'] []"


# --- arguments are checked at the call; what a sender sent never raises ------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("tolerance", [NAN, INF, -INF, -1, -0.5])
def test_a_tolerance_that_would_switch_the_age_check_off_is_refused(tolerance):
    """NaN compares false with every age: ``float(os.environ[...])`` of a bad setting accepted replays."""
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP)
    with pytest.raises(inventory_cli.ArgumentError, match="tolerance") as raised:
        verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=tolerance)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, InputError)


@pytest.mark.parametrize("now", [NAN, INF, -INF])
def test_a_now_that_is_not_finite_is_refused(now):
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP)
    with pytest.raises(ValueError, match="now must be a finite number"):
        verify(MINIMAL, headers, secret=TEST_SECRET, now=now)


def test_a_tolerance_read_as_a_float_still_checks_the_age():
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP)
    tolerance = float("300")  # as a receiver reads it from its environment
    assert verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=tolerance, now=STAMP + 300).valid
    stale = verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=tolerance, now=STAMP + 301.5)
    assert (stale.reason, stale.message.split("(")[1]) == (
        "stale_timestamp",
        "tolerance 300 s): a replayed or delayed delivery",
    )


@pytest.mark.parametrize(
    "timestamp, error",
    [("abc", TypeError), ("1700000000", TypeError), (True, TypeError), (NAN, TypeError), (1.5, TypeError),
     (-1, ValueError), (10**12, ValueError)],
)  # fmt: skip
def test_sign_headers_refuses_a_timestamp_verify_would_not_read(timestamp, error):
    with pytest.raises(error, match="timestamp"):
        sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=timestamp)


@pytest.mark.parametrize("timestamp", [0, 10**12 - 1])
def test_sign_headers_takes_every_timestamp_verify_reads(timestamp):
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=timestamp)
    assert verify(MINIMAL, headers, secret=TEST_SECRET, tolerance=0).valid


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: sign_headers(MINIMAL, secret=TEST_SECRET, method=1), TypeError, "method is text"),
        (lambda: sign_headers(MINIMAL, secret=TEST_SECRET, method="GET /x"), ValueError, "HTTP method"),
        (lambda: sign_headers(MINIMAL, secret=TEST_SECRET, method=""), ValueError, "HTTP method"),
        (
            lambda: sign_headers(MINIMAL, secret=WHSEC, scheme="standard-webhooks", message_id=3),
            TypeError,
            "message_id is text",
        ),
        (
            lambda: sign_headers(MINIMAL, secret=TEST_SECRET, scheme="square", url=b"https://x/"),
            TypeError,
            "url is text",
        ),
        (lambda: sign_headers(MINIMAL, secret=TEST_SECRET, scheme=5), TypeError, "a scheme is"),
        (lambda: sign_headers(5, secret=TEST_SECRET), TypeError, "not int"),  # bytes(5): five NULs
        (lambda: sign_headers(MINIMAL, secret=None), TypeError, "a secret is text"),
        (lambda: verify(MINIMAL, {}, secret=[TEST_SECRET, b"x"]), TypeError, "a secret is text"),
        (lambda: verify(MINIMAL, {}, secret=b"x"), TypeError, "a secret is text"),
        (lambda: verify(MINIMAL, {}, secret=TEST_SECRET, method=None), TypeError, "method is text"),
        (
            lambda: verify(MINIMAL, {}, secret=TEST_SECRET, tolerance="300"),
            TypeError,
            "tolerance is a number",
        ),
        (lambda: verify(MINIMAL, {}, secret=TEST_SECRET, tolerance=True), TypeError, "tolerance is a number"),
        (lambda: verify(MINIMAL, {}, secret=TEST_SECRET, now="1700000000"), TypeError, "now is a number"),
        (lambda: verify(MINIMAL, {}, secret=TEST_SECRET, validate="no"), TypeError, "validate is True"),
        (lambda: verify(MINIMAL, {}, secret=TEST_SECRET, scheme="square", url=1), TypeError, "url is text"),
        (lambda: verify(MINIMAL, "X-Timestamp: 1", secret=TEST_SECRET), TypeError, "headers are a mapping"),
        (lambda: verify(MINIMAL, 5, secret=TEST_SECRET), TypeError, "headers are a mapping"),
        (lambda: verify(MINIMAL, [("X-Timestamp",)], secret=TEST_SECRET), TypeError, "a tuple of 1"),
        (lambda: verify(MINIMAL, ["X-Timestamp: 1"], secret=TEST_SECRET), TypeError, "pair, not str"),
        (lambda: verify(MINIMAL, {"X-Timestamp": 1}, secret=TEST_SECRET), TypeError, "header value is str"),
        (lambda: verify(MINIMAL, {1: "x"}, secret=TEST_SECRET), TypeError, "header name is str"),
        (
            lambda: verify(MINIMAL, {}, secret="whsec_", scheme="standard-webhooks"),
            InputError,
            "not in the form the standard-webhooks scheme needs",
        ),
    ],
)
def test_a_wrong_argument_is_one_clear_error_at_the_call(call, error, match):
    with pytest.raises(error, match=match) as raised:
        call()
    assert TEST_SECRET not in str(raised.value)


def signed_pairs() -> list[tuple[str, str]]:
    return list(sign_headers(MINIMAL, secret=TEST_SECRET, timestamp=STAMP).items())


@pytest.mark.parametrize(
    "form",
    [
        dict,
        list,  # (name, value) pairs
        lambda pairs: [(n.lower().encode(), v.encode()) for n, v in pairs],  # ASGI's scope["headers"]
        lambda pairs: {n.encode(): bytearray(v.encode()) for n, v in pairs},
        lambda pairs: tuple((n.upper(), v) for n, v in pairs),
    ],
    ids=["mapping", "pairs", "asgi-bytes-pairs", "bytes-mapping", "tuple-of-pairs"],
)
def test_headers_in_the_forms_frameworks_give_them_get_the_same_verdict(form):
    verdict = verify(MINIMAL, form(signed_pairs()), secret=TEST_SECRET, now=STAMP + 1)
    assert (verdict.valid, verdict.reason) == (True, "ok")


def test_the_headers_of_flask_and_starlette_are_taken_as_they_come():
    # In a fresh process: starlette or werkzeug loaded here, in part, would be a second copy of
    # what the pytester runs of the README's and the plugin's examples load, and break them.
    code = (
        "import inventory_cli\n"
        "from starlette.datastructures import Headers\n"
        "from werkzeug.datastructures import Headers as WerkzeugHeaders\n"
        f"pairs, body, secret = {signed_pairs()!r}, {MINIMAL!r}, {TEST_SECRET!r}\n"
        "raw = [(n.encode(), v.encode()) for n, v in pairs]\n"
        "for headers in (WerkzeugHeaders(pairs), Headers(raw=raw)):\n"
        f"    print(inventory_cli.verify(body, headers, secret=secret, now={STAMP + 1}).reason)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    HYGIENE.capture("verify of framework headers", done.stdout, done.stderr)
    assert (done.returncode, done.stdout) == (0, "ok\nok\n"), done.stderr


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"X-Timestamp": None, "X-Webhook-Signature": KNOWN_SIGNATURE}, "missing_timestamp"),
        ({"X-Timestamp": str(STAMP), "X-Webhook-Signature": None}, "missing_signature"),
        ([("X-Timestamp", str(STAMP)), ("X-Webhook-Signature", KNOWN_SIGNATURE),
          ("X-Webhook-Signature", "v1=AA==")], "malformed_signature"),  # joined with ", " as listen joins
        ({"X-Timestamp": b"\xff\x00\x80", "X-Webhook-Signature": b"v1=\xe9"}, "malformed_timestamp"),
        ({"X-Timestamp": "\udcff", "X-Webhook-Signature": "\ud800"}, "malformed_timestamp"),
    ],
    ids=["none-timestamp", "none-signature", "repeated", "odd-bytes", "surrogates"],
)  # fmt: skip
def test_a_header_value_a_sender_or_framework_gives_is_a_verdict_never_an_exception(headers, reason):
    verdict = verify(MINIMAL, headers, secret="s3cret", now=STAMP)
    assert (verdict.valid, verdict.reason) == (False, reason)


def test_odd_values_of_a_signed_id_header_are_a_verdict_too():
    headers = sign_headers(MINIMAL, secret=WHSEC, scheme="standard-webhooks")
    for odd in ("msg_\udcff", b"msg_\xff\x00"):
        verdict = verify(MINIMAL, {**headers, "webhook-id": odd}, secret=WHSEC, scheme="standard-webhooks")
        assert verdict.reason == "signature_mismatch"


def test_sign_headers_signs_and_returns_the_headers_a_custom_scheme_names():
    from inventory_cli import Scheme

    acme = Scheme(name="acme", summary="", signature_header="X-Acme-Signature",
                  message_template="{header:X-Acme-Delivery}.{body}")  # fmt: skip
    headers = sign_headers(MINIMAL, secret=TEST_SECRET, scheme=acme, headers=[(b"x-acme-delivery", b"d-1")])
    assert headers["x-acme-delivery"] == "d-1"
    assert verify(MINIMAL, headers, secret=TEST_SECRET, scheme=acme).valid
    with pytest.raises(InputError, match="the acme scheme signs the X-Acme-Delivery header"):
        sign_headers(MINIMAL, secret=TEST_SECRET, scheme=acme)
