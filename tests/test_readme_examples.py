"""The README's Python examples run: the "Python API" section's as doctests, the "pytest plugin"
section's as the test files they are, in an inner pytest run through the plugin's entry point."""

from __future__ import annotations

import doctest
import re

import pytest

# The inner pytest runs are in this process, and pytester forgets the modules
# they import: requests loaded there and loaded again later by the rest of the
# suite would be two copies whose types do not match ("You can only merge into
# CookieJar"). Loaded here first, it is one module for the whole session.
import requests  # noqa: F401
from conftest import HYGIENE, ROOT

pytest_plugins = ["pytester"]

README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks(section: str) -> list[tuple[int, str]]:
    """The section's python blocks, each with the README line its code starts on (0-based)."""
    start = README_TEXT.index(f"\n## {section}\n")
    end = README_TEXT.find("\n## ", start + 1)
    return [
        (README_TEXT.count("\n", 0, match.start(1)), match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```$", README_TEXT[:end], re.MULTILINE | re.DOTALL)
        if match.start() > start
    ]


API_EXAMPLES = python_blocks("Python API")
PLUGIN_EXAMPLES = [block for _, block in python_blocks("pytest plugin")]


def test_the_sections_have_examples():
    assert len(API_EXAMPLES) >= 4 and all(">>>" in block for _, block in API_EXAMPLES)
    assert len(PLUGIN_EXAMPLES) >= 3 and not any(">>>" in block for block in PLUGIN_EXAMPLES)


def test_the_python_api_examples_run_as_doctests():
    """One namespace for the whole section, as a reader types the examples one after another."""
    namespace: dict[str, object] = {}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for lineno, block in API_EXAMPLES:
        test = parser.get_doctest(block, namespace, "README Python API", "README.md", lineno)
        runner.run(test, out=report.append, clear_globs=False)
        namespace = test.globs  # the next block sees what this one defined
    results = runner.summarize(verbose=False)
    assert results.attempted >= 15
    assert results.failed == 0, "".join(report)


@pytest.mark.parametrize("number", range(1, len(PLUGIN_EXAMPLES) + 1))
def test_the_pytest_plugin_examples_pass(pytester, number):
    block = PLUGIN_EXAMPLES[number - 1]
    pytester.makepyfile(**{f"test_readme_example_{number}": block})
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    HYGIENE.capture(f"README pytest plugin example {number}", result.stdout.str(), result.stderr.str())
    tests = len(re.findall(r"^def test_", block, re.MULTILINE))
    result.assert_outcomes(passed=tests)
