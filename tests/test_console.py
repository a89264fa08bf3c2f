"""Plain output outside a terminal prints what rich would, without rich."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape as rich_escape
from rich.markup import render

from inventory_cli.cli.console import PlainConsole, escape, strip_markup

pieces = st.sampled_from(["[", "]", "\\", "[green]", "[/]", "[bold red]", "[/bold red]", "x", " ", "✓", "[a"])
texts = st.lists(st.one_of(pieces, st.text(max_size=4)), max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=texts)
def test_escape_is_riches_escape(text):
    assert escape(text) == rich_escape(text)


def rich_plain(markup: str) -> str:
    out = io.StringIO()
    Console(file=out, no_color=True, soft_wrap=True, highlight=False, emoji=False, width=200).print(markup)
    return out.getvalue()


@settings(max_examples=1000, deadline=None)
@given(markup=texts)
def test_strip_markup_keeps_what_rich_prints(markup):
    try:
        expected = render(markup, emoji=False).plain
    except MarkupError:  # unbalanced closing tags: reports never write them
        return
    assert strip_markup(markup) == expected


@settings(max_examples=500, deadline=None)
@given(text=texts)
def test_escaped_text_survives(text):
    assert strip_markup(escape(text)) == render(escape(text), emoji=False).plain


@pytest.mark.parametrize(
    "markup",
    [
        "[green]✓[/] samples/a.json: stock.increase",
        "[bold red]3 of 4 deliveries as expected[/]",
        "line 5: [red]malformed line[/]: not JSON",
        "  signature  [red]✗[/]  X-Webhook-Signature does not match",
        "body " + escape("[tag] and \\ backslash") + " ok",
    ],
)
def test_report_lines_print_as_rich_prints_them(markup):
    out = io.StringIO()
    PlainConsole(out).print(markup)
    assert out.getvalue() == rich_plain(markup)


def test_tables_still_go_through_rich():
    from rich.table import Table

    table = Table("a", "b")
    table.add_row("1", "2")
    out = io.StringIO()
    PlainConsole(out).print(table)
    assert "a" in out.getvalue() and "1" in out.getvalue()
    assert "\x1b[" not in out.getvalue()
