"""HTTP/1.1 on the wire for invwh: requests and answers parsed by llhttp (``httptools``).

This package reads and writes HTTP and nothing else: it knows no scheme, no
signature and no recording. ``request_reader.py`` reads requests from a
connection's bytes; ``server.py`` serves them to a handler (``invwh
listen``'s receiver); ``answer_reader.py`` reads answers, for both clients:
``client_pool.py`` POSTs to one ``http://`` URL over keep-alive connections
(``invwh replay``), ``forward_client.py`` sends on what ``listen
--forward-to`` received and reads each answer whole; ``retry.py`` is the one retry
policy of every client, ``failures.py`` names why a delivery got no usable
answer. It may import only the standard library, httptools and
``inventory_cli.errors``; nothing above it.
"""
