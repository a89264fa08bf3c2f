"""Figures the reliability tests reach, printed in pytest's terminal summary so they can be quoted.

A property test calls ``example(name)`` once per example it runs; a load or
fault test calls ``note(key, line)`` with its measured figure.
"""

from __future__ import annotations

from collections import Counter

EXAMPLES: Counter[str] = Counter()
NOTES: dict[str, str] = {}


def example(prop: str) -> None:
    EXAMPLES[prop] += 1


def note(key: str, line: str) -> None:
    NOTES[key] = line


def summary_lines() -> list[str]:
    lines = []
    if EXAMPLES:
        lines.append(f"hypothesis: {sum(EXAMPLES.values())} examples across {len(EXAMPLES)} properties")
    lines += [NOTES[key] for key in sorted(NOTES)]
    return lines
