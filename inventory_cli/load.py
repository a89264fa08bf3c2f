"""Load beyond one machine: a Locust user that sends freshly signed inventory events.

Locust (the optional extra ``invwh[load]``) runs users in many processes on
many machines (``--master`` / ``--worker``) and gathers their figures; this
module only says what one user sends. A plain locustfile is enough::

    from inventory_cli.load import WebhookUser

and ``locust -f locustfile.py --headless -u 50 -r 10 -t 1m --host URL``
sends a weighted mix of the three event types, each made fresh and signed at
send time. A subclass may set ``scheme``, ``secret``, ``weights``,
``recording`` (re-sign and send the bodies of a ``listen --record`` file,
byte for byte), ``path`` and ``expected``.

Settings are resolved as for every invwh command (``config/settings.py``):
the class attribute, else the environment (``INVWH_SECRET``,
``INVWH_SCHEME``, ``INVWH_URL`` when there is no ``--host``), else the config
file (``invwh.toml``, ``$INVWH_CONFIG``), else the default scheme. They are
read once per process, when Locust starts, so a missing secret stops the run
with one line before anything is sent.

Importing Locust patches the standard library (gevent), so nothing else in
the package imports this module.
"""

from __future__ import annotations

import itertools
import logging
import random
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from locust import HttpUser, events, task
from locust.runners import MasterRunner

from .config import settings as resolved
from .config.settings import SECRET_ENV, load_settings_file
from .errors import InvwhError
from .events.factory import event_body, make_event
from .events.validation import event_type_names
from .signing.schemes import Scheme
from .signing.signatures import Secret, sign
from .workflows.recording import BadLine, read_recording
from .workflows.replay import event_type_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Body:
    """One body to send, and the name Locust files its figures under (the event type)."""

    name: str
    data: bytes


@dataclass
class Settings:
    """What a user class sends with, resolved once per process."""

    scheme: Scheme
    secret: Secret
    #: Recorded bodies, cycled through; None sends fresh events.
    bodies: Iterator[Body] | None


class WebhookUser(HttpUser):
    """A Locust user that POSTs signed inventory events and counts the expected answers as successes.

    Set ``--host`` to the receiver's full URL (``http://localhost:3000/webhooks``),
    or ``path`` to POST under a host that is only a base.
    """

    #: Appended to the host: "" posts to the host URL itself.
    path: ClassVar[str] = ""
    #: The signature scheme's name; None: ``INVWH_SCHEME``, the config file, ``inventory-v1``.
    scheme: ClassVar[str | None] = None
    #: The secret; None: ``INVWH_SECRET``, the config file's ``secret_env`` or ``secret``.
    secret: ClassVar[str | None] = None
    #: How often each event type is sent, relative to the others (fresh events only).
    weights: ClassVar[Mapping[str, int]] = {name: 1 for name in event_type_names()}
    #: A ``listen --record`` file whose POST bodies are re-signed and sent in turn instead.
    recording: ClassVar[str | None] = None
    #: The answers that count as a success.
    expected: ClassVar[Collection[int]] = (200,)

    _settings: ClassVar[Settings | None] = None

    @task
    def deliver(self) -> None:
        settings = prepare(type(self))
        body = next(settings.bodies) if settings.bodies is not None else self.fresh_event()
        # Signed now, just before it is sent: the receiver sees a fresh timestamp.
        headers = {"Content-Type": "application/json", **sign(settings.scheme, settings.secret, body.data)}
        with self.client.post(
            self.path, data=body.data, headers=headers, name=body.name, catch_response=True
        ) as response:
            if response.status_code in self.expected:
                response.success()
            elif response.status_code == 0:
                response.failure(f"not delivered: {response.error}")
            else:
                preview = (response.text or "")[:120].replace("\n", " ")
                response.failure(f"answered {response.status_code} {response.reason}: {preview}")

    def fresh_event(self) -> Body:
        names = list(self.weights)
        chosen = random.choices(names, weights=[self.weights[name] for name in names])[0]
        return Body(chosen, event_body(make_event(chosen)))


def prepare(user_class: type[WebhookUser]) -> Settings:
    """The class's scheme, secret and bodies, resolved on first use and kept for the process."""
    # Looked up in the class's own namespace: a subclass gets its own settings, not its parent's.
    settings = user_class.__dict__.get("_settings")
    if settings is None:
        settings = _resolve(user_class)
        user_class._settings = settings
    return settings


def _resolve(user_class: type[WebhookUser]) -> Settings:
    config = load_settings_file()
    scheme = resolved.scheme(user_class.scheme or None, config=config)
    explicit = () if user_class.secret is None else (user_class.secret,)
    ways = f"set the {SECRET_ENV} environment variable or {user_class.__name__}.secret"
    secret = resolved.secrets(explicit, config=config, ways=ways)[0]
    weights = dict(user_class.weights)
    unknown = sorted(set(weights) - set(event_type_names()))
    if unknown:
        raise InvwhError(
            f"{user_class.__name__}.weights: {unknown[0]} is not an event type "
            f"(known: {', '.join(event_type_names())})"
        )
    if any(weight < 0 for weight in weights.values()) or sum(weights.values()) <= 0:
        raise InvwhError(f"{user_class.__name__}.weights: weights of 0 or more, not all 0")
    bodies = None if user_class.recording is None else itertools.cycle(_recorded_bodies(user_class.recording))
    return Settings(scheme, secret, bodies)


def _recorded_bodies(path: str) -> list[Body]:
    """The POST bodies of a recording, in its order: what ``replay`` would send."""
    bodies = [
        Body(event_type_of(record) or "not an event", record.body)
        for record in read_recording(path)
        if not isinstance(record, BadLine) and record.body_read and record.method == "POST"
    ]
    if not bodies:
        raise InvwhError(f"recording {path}: no POST body to send")
    return bodies


def _webhook_users(environment: Any) -> list[type[WebhookUser]]:
    return [cls for cls in environment.user_classes if issubclass(cls, WebhookUser)]


@events.init.add_listener  # type: ignore[untyped-decorator]  # locust's decorators are untyped
def _check_settings(environment: Any, runner: Any = None, **_: Any) -> None:
    """Resolve every WebhookUser's settings as Locust starts: a mistake is one line, before any load."""
    if isinstance(runner, MasterRunner):
        return  # the master sends nothing: its machine needs neither the secret nor the recording
    for user_class in _webhook_users(environment):
        try:
            prepare(user_class)
        except InvwhError as error:
            log.error("invwh: error: %s", error)
            sys.exit(2)
        if user_class.host is None and not environment.host:
            try:
                user_class.host = resolved.url(config=load_settings_file())
            except InvwhError as error:
                log.error("invwh: error: %s", error)
                sys.exit(2)
