"""HTTP/1.1 on the wire for invwh: requests and answers parsed by llhttp (``httptools``).

The one package that speaks HTTP: no module outside it imports requests,
urllib3, httptools or http.client (``tests/test_architecture.py``).

This package reads and writes HTTP and nothing else: it knows no scheme, no
signature and no recording. ``request_reader.py`` reads requests from a
connection's bytes; ``server.py`` serves them to a handler (``invwh
listen``'s receiver); ``answer_reader.py`` reads answers, for both clients:
``client_pool.py`` POSTs to one ``http://`` URL over keep-alive connections
(``invwh replay``), ``requests_client.py`` POSTs with requests (https://, TLS
options, redirects: ``workflows.delivery.Deliverer``'s), ``forward_client.py`` sends on what ``listen
--forward-to`` received and reads each answer whole; ``retry.py`` is the one retry
policy of every client, ``failures.py`` says why a delivery got no usable
answer: a ``Failure``, its ``FailureKind`` and its message. It may import only
the standard library, httptools, requests (lazily, on the first POST) and the
base modules; nothing above it.
"""
