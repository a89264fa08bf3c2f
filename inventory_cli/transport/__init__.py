"""HTTP/1.1 on the wire for invwh: requests and answers parsed by llhttp (``httptools``).

The one package that speaks HTTP: no module outside it imports requests,
urllib3, httptools or http.client (``tests/test_architecture.py``).

This package reads and writes HTTP and nothing else: it knows no scheme, no
signature and no recording. ``request_reader.py`` reads requests from a
connection's bytes; ``server.py`` serves them to a handler (``invwh
listen``'s receiver). Every delivery goes through ``client.open_client``,
which chooses once per run between its two ``Client``s: ``client_pool.py``
(``http://``: keep-alive connections from one thread, which
``client_process.py`` runs in a forked process of its own for a replay) and
``requests_client.py`` (``https://``, TLS options, redirects); both take
``exchange.Post``s and give back ``exchange.Exchange``s, retry and pace by
``retry.py``, and read answers through ``answer_reader.py``.
``forward_client.py`` sends on what ``listen --forward-to`` received and
reads each answer whole; ``failures.py`` says why a delivery got no usable
answer: a ``Failure``, its ``FailureKind`` and its message. It may import only
the standard library, httptools, requests (lazily, on the first POST) and the
base modules; nothing above it.
"""
