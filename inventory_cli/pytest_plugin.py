"""The pytest plugin: fixtures for testing webhook receivers and senders.

Installing invwh registers it with pytest (the ``pytest11`` entry point
``invwh``); ``-p no:invwh`` turns it off. Two fixtures:

- ``webhook_signer`` signs bodies and makes fresh events, for testing a
  receiver (a Flask, FastAPI or Django app) through its test client;
- ``webhook_receiver`` is a running verifying receiver (the machinery of
  ``invwh listen``, in a thread) on a free port, for testing a sender: it
  keeps every delivery with its verdict.

Both use one secret and one scheme, resolved as every invwh command resolves
them (``config/settings.py``): the environment (``INVWH_SECRET``,
``INVWH_SCHEME``) when set, else the ini options ``invwh_secret`` and
``invwh_scheme``, else the config file in the rootdir (``invwh.toml``,
``[tool.invwh]`` in ``pyproject.toml``, or ``$INVWH_CONFIG``: its
``secret_env``, ``secret``, ``scheme`` and schemes), else
``DEFAULT_TEST_SECRET`` and ``inventory-v1``. pytest imports this module at
start-up in every project where invwh is installed, so it imports only
pytest; the rest of invwh loads when a test asks for a fixture.

Once a fixture has handed the secret out, every test report of the session
(the traceback, captured output and logs) is scrubbed of it and of the forms
a test derives from it (``SecretScrubber``): the secret is a plain string to
the app under test, so it is hidden where it is shown, not where it is used.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .config.load import Config
    from .signing.schemes import Scheme
    from .signing.signatures import Secret
    from .workflows.receive import ReceivedDelivery, Receiver

#: The secret the fixtures use when neither ``INVWH_SECRET`` nor ``invwh_secret`` gives one.
#: It is public on purpose: a test secret, never one to verify real deliveries with.
DEFAULT_TEST_SECRET = "invwh-pytest-fixture-secret"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "invwh_secret",
        "the secret invwh's webhook_signer and webhook_receiver fixtures use "
        "(INVWH_SECRET wins when set; else invwh.toml's; default: a fixed test secret)",
        default="",
    )
    parser.addini(
        "invwh_scheme",
        "the signature scheme of invwh's webhook fixtures "
        "(INVWH_SCHEME wins when set; else invwh.toml's; default: inventory-v1)",
        default="",
    )


class SecretScrubber:
    """Replaces a secret, and the forms a test is likely to print it in, with ``****``.

    Why scrub the report rather than wrap the secret so that it cannot be
    printed: the app under test must get the real text from every operation it
    may apply (``str()``, an f-string, ``.encode()``, ``"".join``, C code that
    reads the buffer), and a wrapper that masks those would hand it ``****``
    as its key; one that does not would leak. The report is where a secret
    becomes visible, whatever way it took: a slice, ``.strip()``, ``.upper()``
    (matched in any case), its repr or JSON escapes, its UTF-8 bytes' repr,
    base64 (padded or not, URL-safe too) and hex, URL-quoted, and the same of
    the key a ``whsec_`` secret decodes to.
    """

    #: A shorter form would match ordinary text: the whole secret still hides it.
    SHORTEST_FORM = 4

    #: How pytest marks a value it shortened to its ends (an assertion's operands, the summary line).
    CUT = "..."

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._lowered: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        #: The forms' starts and ends (lower case) by length: what may show beside a CUT.
        self._starts: dict[int, set[str]] = {}
        self._ends: dict[int, set[str]] = {}

    def add(self, secret: str) -> None:
        forms = _derived_forms(secret)
        if forms <= self._forms:
            return
        self._forms |= forms
        self._lowered = sorted({form.lower() for form in self._forms})
        alternatives = sorted(map(re.escape, self._forms), key=len, reverse=True)  # the longest first
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        for form in self._lowered:
            for length in range(3, len(form)):
                self._starts.setdefault(length, set()).add(form[:length])
                self._ends.setdefault(length, set()).add(form[-length:])

    def scrub(self, text: str) -> str:
        """``text`` with the forms replaced. Cheap when none is there: a few substring tests of
        the lower-cased text, and the regex only where one was found."""
        if self._pattern is None:
            return text
        lowered = text.lower()
        if any(form in lowered for form in self._lowered):
            text = self._pattern.sub("****", text)
        if self.CUT in text:
            text = self._scrub_cut_ends(text)
        return text

    def holds_secret(self, text: str) -> bool:
        return self.scrub(text) != text

    def _scrub_cut_ends(self, text: str) -> str:
        """A form's start just before a CUT, or its end just after one, replaced: pytest shows
        a long value as its two ends around "...", which would show the secret in part."""
        pieces = text.split(self.CUT)
        for index in range(len(pieces) - 1):
            pieces[index] = self._without_start(pieces[index])
            pieces[index + 1] = self._without_end(pieces[index + 1])
        return self.CUT.join(pieces)

    def _without_start(self, piece: str) -> str:
        """``piece`` without a form's start at its end."""
        lowered = piece.lower()
        for length in range(min(len(piece), max(self._starts, default=0)), 2, -1):
            if lowered[-length:] in self._starts[length]:
                return piece[:-length] + "****"
        return piece

    def _without_end(self, piece: str) -> str:
        """``piece`` without a form's end at its start."""
        lowered = piece.lower()
        for length in range(min(len(piece), max(self._ends, default=0)), 2, -1):
            if lowered[:length] in self._ends[length]:
                return "****" + piece[length:]
        return piece

    def scrub_report(self, report: pytest.TestReport) -> None:
        """The report with the secret's forms replaced, in place: its captured sections and its
        traceback, whose parts are scrubbed where they are, so that it keeps its layout, its
        colours and its one-line summary."""
        report.sections = [(title, self.scrub(content)) for title, content in report.sections]
        longrepr = report.longrepr
        if longrepr is None or not self.holds_secret(str(longrepr)):
            return
        report.longrepr = self._scrubbed(longrepr, depth=0)
        if self.holds_secret(str(report.longrepr)):  # a part the walk does not know: text, then
            report.longrepr = self.scrub(str(report.longrepr))

    def _scrubbed(self, value: Any, depth: int) -> Any:
        """``value`` with every string in it scrubbed: pytest's report parts (``ReprEntry``,
        ``ReprFuncArgs``, ...) are plain objects holding strings, lists and tuples."""
        if isinstance(value, str):
            return self.scrub(value)
        if depth > 8:
            return value
        if isinstance(value, list):
            return [self._scrubbed(item, depth + 1) for item in value]
        if isinstance(value, tuple):
            return tuple(self._scrubbed(item, depth + 1) for item in value)
        if type(value).__module__.startswith("_pytest.") and hasattr(value, "__dict__"):
            for name, item in vars(value).items():
                object.__setattr__(value, name, self._scrubbed(item, depth + 1))  # frozen dataclasses too
        return value


def _derived_forms(secret: str) -> set[str]:
    import base64
    import binascii
    import contextlib
    import json
    from urllib.parse import quote

    texts = {secret, secret.strip(), secret.removeprefix("whsec_")}
    keys = {text.encode("utf-8", "surrogatepass") for text in texts}
    with contextlib.suppress(
        binascii.Error, ValueError
    ):  # a whsec_ secret's key, as standard-webhooks decodes it
        keys.add(base64.b64decode(secret.removeprefix("whsec_") + "=="))
    forms = set(texts)
    for text in texts:
        forms |= {repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
        forms.add(quote(text, safe=""))
    for key in keys:
        encoded = base64.b64encode(key).decode("ascii")
        forms |= {repr(key)[2:-1], key.hex(), encoded, encoded.rstrip("=")}
        forms.add(base64.urlsafe_b64encode(key).decode("ascii").rstrip("="))
    forms |= {repr(form)[1:-1] for form in forms}  # each as shown inside a repr (a local's value)
    # A repr escapes the quote it is written in, which depends on what surrounds the secret.
    forms |= {form.replace(quote, "\\" + quote) for form in forms for quote in "'\""}
    return {form for form in forms if len(form) >= SecretScrubber.SHORTEST_FORM}


#: The session's scrubber, made when a fixture first hands a secret out.
_SCRUBBER = pytest.StashKey[SecretScrubber]()


def _hand_out(config: pytest.Config, secret: str) -> None:
    """Note that ``secret`` is now in tests' hands: reports from here on are scrubbed of it."""
    scrubber = config.stash.get(_SCRUBBER, None)
    if scrubber is None:
        scrubber = config.stash[_SCRUBBER] = SecretScrubber()
    scrubber.add(secret)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    scrubber = item.config.stash.get(_SCRUBBER, None)
    if scrubber is not None:
        scrubber.scrub_report(outcome.get_result())  # type: ignore[attr-defined]


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

    def __init__(self, secret: str, scheme: str | Scheme) -> None:
        from .signing.schemes import Scheme, get_scheme
        from .signing.signatures import Secret

        # Both checked now, so that a bad setting fails at the fixture, not in the test.
        self._secret = Secret(secret)
        self._scheme = scheme if isinstance(scheme, Scheme) else get_scheme(scheme)
        self.scheme = self._scheme.name

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
            scheme=scheme or self._scheme,
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

    def __init__(self, secret: Secret, scheme: str | Scheme) -> None:
        from .signing.schemes import Scheme, get_scheme
        from .workflows.receive import Receiver, ReceiverConfig

        self._secret = secret
        self._received: list[ReceivedDelivery] = []
        self._arrived = threading.Condition()
        scheme = scheme if isinstance(scheme, Scheme) else get_scheme(scheme)
        config = ReceiverConfig(scheme=scheme, secrets=[secret], port=0)
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
    """One line per delivery and, for a refused one, its message and likely causes under it,
    as ``invwh listen`` and ``invwh verify`` print them, less their flag advice (a test has no
    flags to pass: each cause in its plain sentence, ``Hint.text``)."""
    event_type = delivery.event_type or "-"
    line = (
        f"{delivery.status} {_shown(delivery.method)} {_shown(delivery.path)} {event_type} {delivery.reason}"
    )
    if delivery.valid:
        return line
    hints = delivery.verdict.hints if delivery.verdict is not None else []
    return "".join(
        [f"{line}: {_shown(delivery.message)}", *(f"\n    likely cause: {_shown(h.text)}" for h in hints)]
    )


def _shown(text: str) -> str:
    """``text`` with control characters escaped: what a sender sent stays on its line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


#: The project's config file, read once a session (a plain ``secret`` in it costs a ``git`` run).
_SETTINGS_FILE = pytest.StashKey["Config | None"]()


def _settings_file(config: pytest.Config) -> Config | None:
    """The project's invwh config file, as the CLI would find it run from the rootdir."""
    if _SETTINGS_FILE not in config.stash:
        from .config.settings import load_settings_file

        config.stash[_SETTINGS_FILE] = load_settings_file(directory=config.rootpath)
    return config.stash[_SETTINGS_FILE]


def _secret(config: pytest.Config) -> Secret:
    from .config import settings

    ini = str(config.getini("invwh_secret") or "").strip()
    # Never missing: a test suite without a secret of its own signs with the public test secret.
    ways = "the fixtures' default"
    found = settings.secrets(config=_settings_file(config), local=ini, default=DEFAULT_TEST_SECRET, ways=ways)
    return found[0]


def _scheme(config: pytest.Config) -> Scheme:
    from .config import settings

    ini = str(config.getini("invwh_scheme") or "").strip()
    return settings.scheme(config=_settings_file(config), local=ini)


@pytest.fixture
def webhook_signer(pytestconfig: pytest.Config) -> WebhookSigner:
    """Signs bodies (``.sign(body)`` gives the headers) and makes fresh events (``.event(type)``)."""
    secret = _secret(pytestconfig).key.decode("utf-8")
    _hand_out(pytestconfig, secret)
    return WebhookSigner(secret, _scheme(pytestconfig))


@pytest.fixture
def webhook_receiver(pytestconfig: pytest.Config) -> Iterator[WebhookReceiver]:
    """A verifying receiver on a free port (``.url``), stopped after the test."""
    secret = _secret(pytestconfig)
    _hand_out(pytestconfig, secret.key.decode("utf-8"))
    receiver = WebhookReceiver(secret, _scheme(pytestconfig)).start()
    try:
        yield receiver
    finally:
        receiver.close()
