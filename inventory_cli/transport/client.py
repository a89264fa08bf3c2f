"""One way to POST: ``open_client(url, options)`` and the ``Exchange`` every POST comes to.

Every command that delivers (``send``, ``trigger``, ``demo``, ``check``,
``replay``, the inspector's replays) opens one ``Client`` for its run and
hands it ``Post``s: a body and how to sign it at the moment it is written.
The client chooses nothing per POST; ``open_client`` chooses once, by the URL:

- ``http://``: ``client_pool.ClientPool``, keep-alive connections multiplexed
  from one thread, answers read by llhttp: thousands of deliveries a second.
  A run that asks (``own_process``: a replay) gets it in a forked process of
  its own, ``client_process.ProcessClient``, where that gains (Linux, two cores).
- ``https://``, and any URL when redirects are to be followed:
  ``requests_client.RequestsClient`` (TLS, CA bundles, redirects), on a pool of
  threads when a run asks for more than one connection.

Both retry by the one ``retry.RetryPolicy``, pace by the one ``retry.Pace``,
say each wait before a retry to ``on_retry``, and give back an ``Exchange``
per POST, in the order the POSTs came: the request as it was last sent, and
its answer or its ``Failure`` (a ``FailureKind`` to decide by, and a message).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol
from urllib.parse import urlsplit

from .exchange import ClientOptions, Exchange, Post, Signer


class Client(Protocol):
    """POSTs to the one URL a client was opened for."""

    def run(self, posts: Iterable[Post]) -> Iterator[Exchange]:
        """Deliver every POST, as many at once as the options allow; their exchanges in their order."""
        ...

    def send(self, post: Post) -> Exchange:
        """Deliver one POST and wait for what becomes of it."""
        ...

    def close(self) -> None: ...


def open_client(
    url: str,
    options: ClientOptions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    signer: Signer | None = None,
) -> Client:
    """The client for ``url``: the llhttp pool for ``http://``, requests for the rest (see above).

    ``clock`` and ``sleep`` are how the client waits (a retry's backoff, the pace): tests pass
    their own. The URL is not checked here (``urls.url_problem`` is the rule callers apply).
    With ``options.own_process``, the pool runs in a child process (``client_process``) where
    forking gains, signing with ``signer``: what the run's POSTs carry, or ``KeptHeaders``.
    """
    # Each imported when chosen: an http:// run never loads the requests client, nor the reverse.
    if urlsplit(url).scheme == "http" and not options.follow_redirects:
        from .client_pool import ClientPool

        pool = ClientPool(url, options, clock=clock, sleep=sleep)
        # A test's own clock and sleep stay in this process, with the pool they drive.
        if options.own_process and signer is not None and clock is time.monotonic and sleep is time.sleep:
            from .client_process import ProcessClient, forking_pays

            if forking_pays():
                try:
                    return ProcessClient(pool, signer)
                except OSError:  # no process or pipe to be had (a limit reached): this one does it all
                    pass
        return pool
    from .requests_client import RequestsClient

    return RequestsClient(url, options, clock=clock, sleep=sleep)
