"""The HTTP server, the client pool, retry policy, failure descriptions.

May import only the standard library, httptools and `inventory_cli.errors`.
"""
