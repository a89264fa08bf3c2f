"""Bad input never gives a traceback: a failed check (exit 1) or an input error (exit 2), said plainly.

The ``invwh`` fixture already fails a test on any traceback or exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLES, TEST_SECRET

from inventory_cli.events.payloads import MAX_PAYLOAD_BYTES
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign

NOW = 1_700_000_000


def _huge(path: Path) -> None:
    with path.open("wb") as handle:  # sparse: no 10 MiB written to disk
        handle.truncate(MAX_PAYLOAD_BYTES + 1)


# name: (what to put at the path: bytes, a callable or None for nothing, exit code, message fragment)
CASES = {
    "empty": (b"", 1, "the payload is empty"),
    "whitespace": (b" \n\n", 1, "the payload is empty"),
    "not-json": (b"inventory: stock.increase\n", 1, "not JSON: Expecting value at line 1 column 1"),
    "truncated": (b'{"inventoryStockIncreaseEventType": "stock.increase"', 1, "not JSON"),
    "invalid-utf8": (b'{"inventoryStockIncreaseEventType": "stock.incr\xe9ase"}', 1, "not UTF-8: byte 0xe9"),
    "utf16": ('{"inventoryStockIncreaseEventType": "stock.increase"}'.encode("utf-16"), 1, "not UTF-8"),
    "bom": (b'\xef\xbb\xbf{"inventoryStockIncreaseEventType": "stock.increase"}', 1, "byte-order mark"),
    "array": (
        b'[{"inventoryStockIncreaseEventType": "stock.increase"}]',
        1,
        "expected a JSON object, got an array",
    ),
    "number": (b"42\n", 1, "expected a JSON object, got a number"),
    "string": (b'"stock.increase"', 1, "expected a JSON object, got a string"),
    "null": (b"null", 1, "expected a JSON object, got null"),
    "deep-open": (b"[" * 100_000, 1, "nested too deeply"),
    "deep-closed": (b"[" * 100_000 + b"]" * 100_000, 1, "nested too deeply"),
    "deep-inside-event": (
        b'{"inventoryStockIncreaseEventType": "stock.increase", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        1,
        "nested too deeply",
    ),
    "lone-surrogate-key": (b'{"kind\\udcff": "stock.depleted"}', 1, "instead of kind\\udcff"),
    "huge": (_huge, 2, "larger than the 10 MiB limit for a payload"),
    "missing": (None, 2, "no such file"),
    "directory": (Path.mkdir, 2, "is a directory, not a payload file"),
}
FAILED_CHECKS = [name for name, (_, code, _) in CASES.items() if code == 1]
INPUT_ERRORS = [name for name, (_, code, _) in CASES.items() if code == 2]


def make(tmp_path: Path, case: str) -> Path:
    content = CASES[case][0]
    path = tmp_path / f"{case}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        content(path)
    return path


def one_error_line(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("invwh: error: ")
    assert fragment in lines[0]


def signature_args(body: bytes) -> list[str]:
    """Headers that are right for ``body``, so only the payload can fail."""
    headers = sign(INVENTORY_V1, Secret(TEST_SECRET), body, timestamp=NOW)
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


def test_every_case_says_which_exit_code():
    assert FAILED_CHECKS and INPUT_ERRORS
    for required in ("empty", "not-json", "invalid-utf8", "array"):
        assert CASES[required][1] == 1
    for required in ("huge", "missing", "directory"):
        assert CASES[required][1] == 2


# --- failed checks: exit 1, the problem in the report ---------------------


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_sign_refuses(invwh, tmp_path, case):
    path = make(tmp_path, case)
    result = invwh("sign", path, "--secret", TEST_SECRET, code=1)
    assert result.stdout == ""
    first, *problems = result.stderr.splitlines()
    assert (
        first == f"invwh: error: {path} is not a valid inventory event (use --no-validate to sign it anyway):"
    )
    assert problems and CASES[case][2] in "\n".join(problems)


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_sign_no_validate_signs_the_bytes_anyway(invwh, tmp_path, case):
    path = make(tmp_path, case)
    result = invwh(
        "sign", path, "--secret", TEST_SECRET, "--timestamp", NOW, "--no-validate", "--format", "value"
    )
    expected = sign(INVENTORY_V1, Secret(TEST_SECRET), path.read_bytes(), timestamp=NOW)
    assert result.stdout == expected["X-Webhook-Signature"] + "\n"


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_verify_reports_the_payload(invwh, tmp_path, case):
    path = make(tmp_path, case)
    args = [
        "verify",
        "--body",
        path,
        "--secret",
        TEST_SECRET,
        *signature_args(path.read_bytes()),
        "--now",
        NOW,
    ]
    text = invwh(*args, code=1, env={"COLUMNS": "300"}).stdout  # a wide log: the head line whole
    assert text.startswith(f"✗ invalid: {path} fails invalid_payload\n")
    assert CASES[case][2] in text
    data = invwh(*args, "--format", "json", code=1).json
    assert (data["valid"], data["reason"], data["event_type"]) == (False, "invalid_payload", None)
    assert data["checks"]["signature"]["ok"] is True
    assert CASES[case][2] in data["checks"]["payload"]["problems"][0]["message"]


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_verify_with_a_wrong_signature_still_explains(invwh, tmp_path, case):
    path = make(tmp_path, case)
    args = ["--secret", TEST_SECRET, "-H", "X-Webhook-Signature: v1=AAAA", "-H", f"X-Timestamp: {NOW}"]
    data = invwh("verify", "--body", path, *args, "--now", NOW, "--format", "json", code=1).json
    assert data["reason"] == "signature_mismatch"
    assert data["hints"]
    assert CASES[case][2] in data["checks"]["payload"]["problems"][0]["message"]
    # Without validation it is the signature alone that fails.
    invwh("verify", "--body", path, *args, "--now", NOW, "--no-validate", code=1)


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_validate_reports(invwh, tmp_path, case):
    path = make(tmp_path, case)
    text = invwh("validate", path, code=1).stdout
    assert text.startswith(f"✗ {path}: not a valid inventory event\n")
    assert CASES[case][2] in text
    data = invwh("validate", path, "--format", "json", code=1).json
    assert data["ok"] is False
    assert CASES[case][2] in data["files"][0]["problems"][0]["message"]


@pytest.mark.parametrize("case", FAILED_CHECKS)
def test_stdin_is_checked_the_same_way(invwh, tmp_path, case):
    body = make(tmp_path, case).read_bytes()
    assert CASES[case][2] in invwh("validate", "-", input=body, code=1).stdout
    assert CASES[case][2] in invwh("sign", "-", "--secret", TEST_SECRET, input=body, code=1).stderr
    args = ["verify", "--body", "-", "--secret", TEST_SECRET, *signature_args(body), "--now", NOW]
    assert CASES[case][2] in invwh(*args, input=body, code=1).stdout


# --- input errors: exit 2, one line on stderr -----------------------------


@pytest.mark.parametrize("case", INPUT_ERRORS)
@pytest.mark.parametrize(
    "command",
    [
        ["sign", "PATH", "--secret", TEST_SECRET],
        ["sign", "PATH", "--secret", TEST_SECRET, "--no-validate"],
        ["verify", "--body", "PATH", "--secret", TEST_SECRET, "-H", "X-Webhook-Signature: v1=AAAA"],
        ["verify", "--body", "PATH", "--secret", TEST_SECRET, "--format", "json"],
        ["validate", "PATH"],
        ["validate", "--format", "json", "PATH"],
    ],
    ids=["sign", "sign-no-validate", "verify", "verify-json", "validate", "validate-json"],
)
def test_input_errors(invwh, tmp_path, case, command):
    path = make(tmp_path, case)
    result = invwh(*[str(path) if arg == "PATH" else arg for arg in command], code=2)
    assert result.stdout == ""
    expected = CASES[case][2]
    if command[0] == "validate" and case == "directory":
        expected = "no *.json files in this directory"  # validate reads a directory's *.json files
    one_error_line(result.stderr, expected)
    assert str(path) in result.stderr


def test_validate_reads_a_directory_of_payloads(invwh):
    report = invwh("validate", SAMPLES, "--format", "json").json
    assert [f["file"] for f in report["files"]] == [str(p) for p in sorted(SAMPLES.glob("*.json"))]
    assert report["ok"] is True


def test_validate_stops_at_the_first_unreadable_file(invwh, tmp_path):
    result = invwh("validate", SAMPLES / "stock-increase.json", tmp_path / "gone.json", code=2)
    one_error_line(result.stderr, "gone.json: no such file")


@pytest.mark.parametrize(
    "command",
    [
        ["sign", "-", "--secret", TEST_SECRET],
        ["verify", "--body", "-", "--secret", TEST_SECRET],
        ["validate", "-"],
    ],
    ids=["sign", "verify", "validate"],
)
def test_huge_stdin(invwh, command):
    result = invwh(*command, input=b" " * (MAX_PAYLOAD_BYTES + 1), code=2)
    one_error_line(result.stderr, "<stdin> is larger than the 10 MiB limit for a payload")


def test_exactly_the_limit_is_read(invwh, tmp_path):
    path = tmp_path / "big.json"
    prefix = b'{"inventoryStockIncreaseEventType": "stock.increase", "pad": "'
    path.write_bytes(prefix + b"x" * (MAX_PAYLOAD_BYTES - len(prefix) - 2) + b'"}')
    assert path.stat().st_size == MAX_PAYLOAD_BYTES
    assert invwh("validate", path).stdout == f"✓ {path}: stock.increase\n"


# --- the secret never shows -----------------------------------------------


def leak_scenarios(tmp_path: Path) -> list[tuple[list[str], dict[str, str], int]]:
    good = SAMPLES / "stock-increase.json"
    invalid = SAMPLES / "invalid" / "typo-in-type.json"
    secret_file = tmp_path / "secret"
    secret_file.write_text(TEST_SECRET + "\n")
    padded_file = tmp_path / "padded"
    padded_file.write_text(f"  {TEST_SECRET}  \n")
    right = signature_args(good.read_bytes())
    wrong = [arg for arg in right]
    wrong[1] = "X-Timestamp: 1700000001"
    by_other = sign(INVENTORY_V1, Secret(TEST_SECRET + "\n"), good.read_bytes(), timestamp=NOW)
    other = [arg for name, value in by_other.items() for arg in ("-H", f"{name}: {value}")]
    s = ["--secret", TEST_SECRET]
    env = {"INVWH_SECRET": TEST_SECRET}
    return [
        (["sign", good, *s], {}, 0),
        (["sign", good, *s, "--format", "json"], {}, 0),
        (["sign", good, *s, "--format", "curl"], {}, 0),
        (["sign", "-", *s, "--format", "curl"], {}, 0),
        (["sign", good, *s, "--format", "value"], {}, 0),
        (["sign", good, "--secret-file", secret_file], {}, 0),
        (["sign", good], env, 0),
        (["sign", invalid, *s], {}, 1),
        (["sign", tmp_path / "missing.json", *s], {}, 2),
        (["sign", tmp_path / "missing.json"], env, 2),
        (["sign", good, *s, "--scheme", "nope"], {}, 2),
        (["sign", good, *s, "--secret-file", secret_file], {}, 2),
        (["sign", good, *s, "--timestamp", "yesterday"], {}, 2),
        (["verify", "--body", good, *s, *right, "--now", NOW], {}, 0),
        (["verify", "--body", good, *s, *right, "--now", NOW, "--format", "json"], {}, 0),
        (["verify", "--body", good, *s, *wrong, "--now", NOW], {}, 1),
        (["verify", "--body", good, *s, *wrong, "--now", NOW, "--format", "json"], {}, 1),
        (["verify", "--body", good, *s, *other, "--now", NOW, "--format", "json"], {}, 1),
        (["verify", "--body", good, "--secret-file", padded_file, *right, "--now", NOW], {}, 1),
        (["verify", "--body", good, *s, "--secret", "other", *right], {}, 1),
        (["verify", "--body", good, *right, "--format", "json"], env, 1),
        (["verify", "--body", invalid, *s, *right, "--now", NOW], {}, 1),
        (["verify", "--body", tmp_path / "missing.json", *s, *right], {}, 2),
        (["verify", "--body", good, *s, "-H", "broken"], {}, 2),
        (["verify", "--body", good, *s, "--scheme", "nope"], env, 2),
    ]


def test_the_secret_is_never_printed(invwh, tmp_path):
    body = (SAMPLES / "stock-increase.json").read_bytes()
    for args, env, code in leak_scenarios(tmp_path):
        result = invwh(*args, env=env, code=code, input=body)
        for stream in (result.stdout, result.stderr):
            assert TEST_SECRET not in stream, args
            assert TEST_SECRET.upper() not in stream.upper(), args


def test_a_file_name_that_is_not_text_still_prints(invwh, tmp_path):
    import os

    path = tmp_path / os.fsdecode(b"caf\xe9.json")
    path.write_bytes((SAMPLES / "stock-increase.json").read_bytes())
    result = invwh("validate", path)
    assert "caf\\udce9.json: stock.increase" in result.stdout


# --- URLs and numbers: checked where they are read, one line and exit 2 ---------------

#: A command of each kind that takes --url, with URL standing for it.
URL_COMMANDS = {
    "send": ["send", str(SAMPLES / "stock-increase.json"), "--url", "URL"],
    "trigger": ["trigger", "stock.increase", "--url", "URL"],
    "check": ["check", "--url", "URL"],
    "replay": ["replay", "-", "--url", "URL"],
    "sign": ["sign", str(SAMPLES / "stock-increase.json"), "--format", "curl", "--url", "URL"],
}

#: A malformed URL and the words that say what is wrong with it.
BAD_URLS = {
    "http://[::1/x": "the host's brackets do not match",
    "http://[zz]/x": "the host in brackets is not an IPv6 address",
    "http://localhost:99999/x": "port 99999 is out of range (1 to 65535)",
    "http://localhost:0/x": "port 0 is out of range",
    "http://localhost:abc/x": "port 'abc' is not a number",
    "http:///x": "it has no host",
    "http://:8080/x": "it has no host",
    "http://a b/x": "it holds a space",
    "http://h/x y": "it holds a space",
    "http://h/\x1b[2J": "control character",
    "http://a%zz/x": "is not a host name",
    "ftp://h/x": "it needs http:// or https://",
    "localhost:3000/x": "did you mean http://localhost:3000/x?",
}


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", URL_COMMANDS)
def test_a_malformed_url_is_an_input_error(invwh, command, url):
    """Not a traceback (replay, trigger), not "could not deliver", exit 3 (send, check)."""
    args = [url if arg == "URL" else arg for arg in URL_COMMANDS[command]]
    result = invwh(*args, "--secret", TEST_SECRET, code=2, input=b"")
    assert result.stdout == ""
    one_error_line(result.stderr, BAD_URLS[url])
    assert "invalid value for '--url'" in result.stderr
    assert repr(url) in result.stderr  # names the URL, escaped


def test_a_malformed_url_in_the_environment_is_an_input_error(invwh):
    result = invwh("trigger", "stock.increase", "--secret", TEST_SECRET, env={"INVWH_URL": "http://h:99999/"},
                   code=2)  # fmt: skip
    one_error_line(result.stderr, "'http://h:99999/': port 99999 is out of range")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:8080/x",
        "https://dév.example/hooks",
        "http://user:pw@h:80/p?q=1#f",
        "http://h:/x",
        "HTTP://H/",
    ],
)
def test_a_usable_url_is_not_refused(url):
    from inventory_cli.urls import url_problem

    assert url_problem(url) is None


NUMBER_COMMANDS = {name: args for name, args in URL_COMMANDS.items() if name != "sign"}

#: (option, value, what the line says)
BAD_NUMBERS = [
    ("--timeout", "inf", "not in the range"),
    ("--timeout", "nan", "'nan' is not a finite number"),
    ("--timeout", "1e309", "not in the range"),
    ("--timeout", "0", "not in the range"),
    ("--timeout", "-1", "not in the range"),
    ("--timeout", "1e12", "not in the range"),
    ("--timeout", "soon", "'soon' is not a valid number"),
]


@pytest.mark.parametrize("option, value, words", BAD_NUMBERS)
@pytest.mark.parametrize("command", NUMBER_COMMANDS)
def test_a_timeout_that_is_not_a_finite_positive_number_is_an_input_error(
    invwh, command, option, value, words
):
    """`inf` and `1e309` gave an OverflowError about time_t, `nan` a ValueError."""
    args = ["http://127.0.0.1:9/" if arg == "URL" else arg for arg in NUMBER_COMMANDS[command]]
    result = invwh(*args, option, value, "--secret", TEST_SECRET, code=2, input=b"")
    one_error_line(result.stderr, words)
    assert f"'{option}'" in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["replay", "-", "--rate", "1e-300"], "not in the range 0.001<=x<=1000000"),  # was a traceback
        (["replay", "-", "--rate", "nan"], "'nan' is not a finite number"),  # hung forever
        (["replay", "-", "--rate", "inf"], "not in the range"),
        (["replay", "-", "--rate", "0"], "not in the range"),
        (["replay", "-", "--concurrency", "0"], "not in the range 1<=x<=256"),
        (["replay", "-", "--limit", "0"], "not in the range x>=1"),
        (["send", str(SAMPLES / "stock-increase.json"), "--retries", "1000"], "not in the range 0<=x<=100"),
        (["send", str(SAMPLES / "stock-increase.json"), "--retries", "-1"], "not in the range"),
        (["check", "--tolerance", "-1"], "not in the range x>=0"),
        (["check", "--tolerance", "inf"], "is not a valid integer"),
        (["check", "--seed", "-1"], "not in the range x>=0"),
        (["check", "--expect", "99"], "not in the range 100<=x<=599"),
        (["verify", "--body", str(SAMPLES / "stock-increase.json"), "--now", "nan"], "not a finite number"),
        (["verify", "--body", str(SAMPLES / "stock-increase.json"), "--now", "inf"], "not in the range"),
        (["verify", "--body", str(SAMPLES / "stock-increase.json"), "--now", "-1"], "not in the range"),
    ],
    ids=lambda value: " ".join(value[-2:]) if isinstance(value, list) else None,
)
def test_a_number_out_of_range_is_an_input_error(invwh, args, words):
    needs = ["--url", "http://127.0.0.1:9/"] if args[0] in NUMBER_COMMANDS else []
    result = invwh(*args, *needs, "--secret", TEST_SECRET, code=2, input=b"")
    one_error_line(result.stderr, words)


def test_a_secret_file_that_never_ends_is_read_with_a_cap(invwh):
    """/dev/zero was read until memory ran out; payloads and -H @FILE were capped already."""
    result = invwh("sign", str(SAMPLES / "stock-increase.json"), "--secret-file", "/dev/zero", code=2)
    one_error_line(result.stderr, "secret file /dev/zero: larger than 64 KiB")
