"""The command-line interface: a thin click layer over the core."""

from .app import cli, main

__all__ = ["cli", "main"]
