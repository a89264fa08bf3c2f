"""Events: the inventory API's three event schemas, validating a payload against them, fresh
events of each type, and the sample files that ship with the package.

``schemas/`` is the single source of the event types and their
discriminators. This layer imports only the standard library, jsonschema
(on the slow path) and ``inventory_cli.errors``/``files``.
"""
