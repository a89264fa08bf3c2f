"""The pytest plugin: fixtures for testing webhook receivers and senders.

Installing invwh registers it with pytest (the ``pytest11`` entry point
``invwh``); ``-p no:invwh`` turns it off. Two fixtures:

- ``webhook_signer`` signs bodies and makes fresh events, for testing a
  receiver (a Flask, FastAPI or Django app) through its test client;
- ``webhook_receiver`` is a running verifying receiver (the machinery of
  ``invwh listen``, in a thread) on a free port, for testing a sender: it
  keeps every delivery with its verdict.

Both use one secret: ``INVWH_SECRET`` when set, else the ini option
``invwh_secret``, else ``DEFAULT_TEST_SECRET``; and one scheme: the ini option
``invwh_scheme``, else ``inventory-v1``. pytest imports this module at
start-up in every project where invwh is installed, so it imports only
pytest; the rest of invwh loads when a test asks for a fixture.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .signing.signatures import Secret
    from .workflows.receive import ReceivedDelivery, Receiver

#: The secret the fixtures use when neither ``INVWH_SECRET`` nor ``invwh_secret`` gives one.
#: It is public on purpose: a test secret, never one to verify real deliveries with.
DEFAULT_TEST_SECRET = "invwh-pytest-fixture-secret"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "invwh_secret",
        "the secret invwh's webhook_signer and webhook_receiver fixtures use "
        "(INVWH_SECRET wins when set; default: a fixed test secret)",
        default="",
    )
    parser.addini(
        "invwh_scheme",
        "the signature scheme of invwh's webhook fixtures (default: inventory-v1)",
        default="",
    )


class SecretText(str):
    """The secret's text, which a repr never shows: pytest prints the reprs of the values in a
    failing assertion and of a failing function's arguments, and the test logs of CI are read
    by many. ``str()``, comparison and ``encode()`` give the text itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SecretText(****)"


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """A failing comparison with the secret says so without the diff, which would show the text."""
    if not (isinstance(left, SecretText) or isinstance(right, SecretText)):
        return None
    return [f"{_masked(left)} {op} {_masked(right)}", "(the values are not shown: one is the webhook secret)"]


def _masked(value: object) -> str:
    if isinstance(value, SecretText):
        return repr(value)
    return f"<{type(value).__name__} of length {len(value)}>" if hasattr(value, "__len__") else "<value>"


class WebhookSigner:
    """Signs bodies and makes fresh events with the fixtures' secret and scheme."""

    def __init__(self, secret: str, scheme: str) -> None:
        from .signing.schemes import get_scheme
        from .signing.signatures import Secret

        # Both checked now, so that a bad setting fails at the fixture, not in the test.
        self._secret = Secret(secret)
        self.scheme = get_scheme(scheme).name

    @property
    def secret(self) -> SecretText:
        """The secret's text, to configure the app under test with."""
        return SecretText(self._secret.key.decode("utf-8"))

    def sign(
        self,
        body: bytes,
        *,
        scheme: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        method: str = "POST",
    ) -> dict[str, str]:
        """The headers to send with ``body`` (``Content-Type`` and the signature headers).

        ``scheme`` and ``secret`` default to the fixture's, ``timestamp`` (unix
        seconds) to now: pass an old one to test that a stale delivery is refused.
        """
        from .api import sign_headers

        return sign_headers(
            body,
            secret=self._secret if secret is None else secret,
            scheme=scheme or self.scheme,
            timestamp=timestamp,
            method=method,
        )

    def event(self, type: str, **overrides: Any) -> bytes:
        """A fresh, valid event of ``type`` as the bytes to sign and send.

        Keywords set fields (``sku="X"``); dotted keys reach into objects
        (``**{"location.warehouseId": "WH-X"}``).
        """
        from .api import new_event
        from .events.factory import event_body

        return event_body(new_event(type, **overrides))

    def __repr__(self) -> str:
        return f"WebhookSigner(scheme={self.scheme!r}, secret=****)"


class WebhookReceiver:
    """A running verifying receiver and what it has received so far."""

    def __init__(self, secret: Secret, scheme: str) -> None:
        from .signing.schemes import get_scheme
        from .workflows.receive import Receiver, ReceiverConfig

        self._secret = secret
        self._received: list[ReceivedDelivery] = []
        self._arrived = threading.Condition()
        config = ReceiverConfig(scheme=get_scheme(scheme), secrets=[secret], port=0)
        self._receiver: Receiver = Receiver(config, on_delivery=self._keep)

    def _keep(self, delivery: ReceivedDelivery) -> None:
        # Runs on the receiver's thread before the answer goes out: a sender
        # that has its answer finds its delivery here.
        with self._arrived:
            self._received.append(delivery)
            self._arrived.notify_all()

    def start(self) -> WebhookReceiver:
        self._receiver.start()
        return self

    def close(self) -> None:
        self._receiver.close()

    @property
    def url(self) -> str:
        """Where to send deliveries: ``http://127.0.0.1:<port>/webhooks``."""
        return self._receiver.url

    @property
    def secret(self) -> SecretText:
        """The secret the receiver verifies with, to configure the sender under test with."""
        return SecretText(self._secret.key.decode("utf-8"))

    @property
    def scheme(self) -> str:
        return self._receiver.config.scheme.name

    @property
    def deliveries(self) -> list[ReceivedDelivery]:
        """Every request answered so far, in order of arrival: ``status``, ``valid``,
        ``reason``, ``event_type``, ``headers``, ``body`` (and ``method``, ``path``, ``message``)."""
        with self._arrived:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedDelivery]:
        """Wait until ``count`` requests have been answered; return every delivery so far.

        Fails the test (AssertionError) when fewer arrive within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            received = list(self._received)
        if len(received) < count:
            seen = "".join(f"\n  {_describe(d)}" for d in received)
            raise AssertionError(
                f"webhook_receiver: {len(received)} of {count} deliveries arrived "
                f"within {timeout:g} s at {self.url}{seen}"
            )
        return received

    def respond_with(self, status: int | None) -> None:
        """Answer every later delivery with ``status`` (verifying still runs and is
        kept); ``None`` answers by the verdict again (200, 401, 422)."""
        self._receiver.respond = status

    def __repr__(self) -> str:
        return f"WebhookReceiver(url={self.url!r}, scheme={self.scheme!r}, deliveries={len(self._received)})"


def _describe(delivery: ReceivedDelivery) -> str:
    event_type = delivery.event_type or "-"
    return f"{delivery.status} {delivery.method} {delivery.path} {event_type} {delivery.reason}"


def _setting(config: pytest.Config, ini_name: str, env_name: str | None, default: str) -> str:
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    return str(config.getini(ini_name) or "").strip() or default


def _secret(config: pytest.Config) -> str:
    return _setting(config, "invwh_secret", "INVWH_SECRET", DEFAULT_TEST_SECRET)


def _scheme(config: pytest.Config) -> str:
    from .signing.schemes import DEFAULT_SCHEME

    return _setting(config, "invwh_scheme", None, DEFAULT_SCHEME)


@pytest.fixture
def webhook_signer(pytestconfig: pytest.Config) -> WebhookSigner:
    """Signs bodies (``.sign(body)`` gives the headers) and makes fresh events (``.event(type)``)."""
    return WebhookSigner(_secret(pytestconfig), _scheme(pytestconfig))


@pytest.fixture
def webhook_receiver(pytestconfig: pytest.Config) -> Iterator[WebhookReceiver]:
    """A verifying receiver on a free port (``.url``), stopped after the test."""
    from .signing.signatures import Secret

    receiver = WebhookReceiver(Secret(_secret(pytestconfig)), _scheme(pytestconfig)).start()
    try:
        yield receiver
    finally:
        receiver.close()
