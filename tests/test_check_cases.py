"""`invwh check`'s cases one by one: their ids, running one alone, the command that re-runs it,
what a receiver said, what the contract's 422 means, and events dated by the run.

Every receiver is a real HTTP server on port 0 (``servers.serve``).
"""

from __future__ import annotations

import calendar
import json
import os
import re
import shlex
import time
from xml.etree import ElementTree

import pytest
from conftest import TEST_SECRET
from servers import Received, Reply, serve
from terminal import run_on_a_terminal
from test_check import (
    ACCEPTS,
    ALL_CASES,
    RAW_BYTES,
    SECRET,
    SECRET_ENV,
    SURVIVES,
    TIMESTAMPS,
    strict_receiver,
)
from test_check_receivers import cases_by_name, named, reserializing, undated, verifying

from inventory_cli.cli.output.text import cell_width
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.workflows.verdict import judge

IDS = [
    "accepts-stock.increase",
    "accepts-stock.decrease",
    "accepts-stock.depleted",
    "raw-body-bytes",
    "tampered-body",
    "wrong-secret",
    "missing-signature",
    "malformed-signature",
    "wrong-method",
    "malformed-json",
    "unknown-event-type",
    "stale-timestamp",
    "future-timestamp",
    "duplicate-delivery",
]


@pytest.fixture
def check(invwh):
    def run(url, *args, code=0):
        # A wide log (text is laid out for 80 columns unless COLUMNS says): these tests read whole lines.
        env = {**SECRET_ENV, "COLUMNS": "300"}
        return invwh("check", "--url", url, "--timeout", "5", *args, code=code, env=env)

    return run


def signature_only(request: Received) -> Reply:
    """Verifies the signature, then takes whatever body came: 200 to bad JSON and unknown events."""
    verdict = judge(
        INVENTORY_V1, [SECRET], request.body, request.headers, method=request.method, tolerance=300
    )
    return Reply(200) if verdict.signature.ok else Reply(401, verdict.reason.encode())


# --- a 2xx to what the contract answers 422 ------------------------------------------------


def test_a_2xx_to_a_body_that_is_no_event_is_a_warning_and_strictly_a_failure(check):
    with serve(signature_only) as server:
        report = check(server.endpoint(), "--format", "json").json
        strict = check(server.endpoint(), "--format", "json", "--strict", code=1).json
    assert (report["ok"], named(report, "warning"), named(report, "failed")) == (True, SURVIVES, [])
    for name in SURVIVES:
        assert cases_by_name(report)[name]["explanation"] == (
            "answered 200 OK: the contract says 422: the receiver claims to have processed it"
        )
    assert (strict["ok"], named(strict, "failed")) == (False, SURVIVES)


# --- -q names what is not a pass ------------------------------------------------------------


def test_quiet_names_every_warning_with_its_reason(check):
    with serve(strict_receiver()) as server:  # no timestamp check: two warnings
        quiet = check(server.endpoint(), "-q").stdout.splitlines()
    assert quiet == [
        "! rejects a stale timestamp: answered 200 OK: a captured delivery can be replayed later: reject "
        "X-Timestamp older than 300 s (the API's SDK does not check it; add the check yourself)",
        "! rejects a far-future timestamp: answered 200 OK: a delivery signed ahead of time stays "
        "replayable: reject X-Timestamp more than 300 s in the future",
        "14 cases: 11 passed, 2 warnings, 1 informational",
    ]


def test_quiet_names_every_case_not_proven(check):
    with serve(lambda request: Reply(401)) as server:
        quiet = check(server.endpoint(), "-q", code=1).stdout.splitlines()
    assert [line.split(":")[0] for line in quiet[:-1]] == [
        *(f"✗ {name}" for name in ACCEPTS),
        *(f"? {name}" for name in ALL_CASES[3:-1]),
    ]
    assert quiet[-1] == "14 cases: 3 failed, 10 not proven, 1 informational"


# --- what the receiver said -----------------------------------------------------------------

WRONG_HEADER = b"Signature header 'X-Signature' is missing\nat verify (app.py:12)"


def test_a_refused_case_shows_the_first_line_of_the_answer_and_the_diagnosis_reads_it(check):
    # A receiver that checks another scheme's header: its own words say why, better than a guess.
    with serve(lambda request: Reply(401, WRONG_HEADER)) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
        text = check(server.endpoint(), code=1).stdout
    said = "the receiver says \"Signature header 'X-Signature' is missing\", most likely the cause"
    assert said in report["diagnosis"]
    assert "X-Signature is not a header the inventory-v1 scheme sends" in report["diagnosis"]
    assert "the secret or the scheme" not in report["diagnosis"]
    cases = cases_by_name(report)
    assert cases["accepts stock.increase"]["explanation"].startswith(f"answered 401 Unauthorized: {said}")
    assert cases["rejects a tampered body"]["answer"] == "Signature header 'X-Signature' is missing"
    lines = [line.strip() for line in text.splitlines()]
    # Without -v, under each case not proven: the first line only.
    assert "the receiver answered: Signature header 'X-Signature' is missing" in lines
    assert "at verify (app.py:12)" not in text


def test_the_answer_shown_is_cut_at_200_bytes(check):
    with serve(lambda request: Reply(401, b"x" * 300 + b"\nsecond line")) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
    assert cases_by_name(report)["rejects a tampered body"]["answer"] == "x" * 200


def test_a_refusal_that_says_no_more_than_the_status_keeps_the_guess(check):
    with serve(lambda request: Reply(401, b'{"error": "invalid signature"}')) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
    assert "the secret or the scheme (inventory-v1) most likely differs" in report["diagnosis"]


# --- dates --------------------------------------------------------------------------------


def fresh_only(request: Received) -> Reply:
    """A receiver that refuses events that occurred more than five minutes ago (or ahead)."""
    verdict = judge(
        INVENTORY_V1, [SECRET], request.body, request.headers, method=request.method, tolerance=300
    )
    if not verdict.signature.ok:
        return Reply(401)
    if not verdict.valid:
        return Reply(422, b"not an inventory event")
    occurred = calendar.timegm(time.strptime(json.loads(request.body)["occurredAt"], "%Y-%m-%dT%H:%M:%SZ"))
    if abs(time.time() - occurred) > 300:
        return Reply(422, b"event too old")
    return Reply(200)


def test_generated_events_carry_the_runs_own_dates(check):
    with serve(fresh_only) as server:
        started = time.time()
        report = check(server.endpoint(), "--format", "json", "--seed", "421337").json
    assert named(report, "failed") == [] and report["ok"] is True
    for request in server.received[:3]:
        occurred = json.loads(request.body)["occurredAt"]
        assert started - 2 <= calendar.timegm(time.strptime(occurred, "%Y-%m-%dT%H:%M:%SZ")) <= time.time()


# --- ids, --case, --list-cases, the command that re-runs a case -----------------------------


def test_list_cases_gives_every_id_with_a_line_in_text_and_json(invwh):
    text = invwh("check", "--list-cases").stdout.splitlines()
    listed = invwh("check", "--list-cases", "--format", "json").json["cases"]
    ids = [*IDS[:9], "wrong-url", "changed-message-id", *IDS[9:]]  # every scheme's cases
    rows = [line for line in text if not line.startswith(" ")]  # what a case checks may wrap under it
    assert max(cell_width(line) for line in text) <= 80  # a pipe's width
    assert [line.split()[0] for line in rows[: len(ids)]] == ids
    assert [case["id"] for case in listed] == ids
    assert all(case["about"] and case["level"] and case["name"] for case in listed)


def test_every_case_reports_its_id(check):
    with serve(verifying()) as server:
        report = check(server.endpoint(), "--format", "json").json
    assert [case["id"] for case in report["items"]] == IDS


def test_one_case_runs_alone_after_the_preflight(check):
    with serve() as server:  # accepts everything: the tampered body fails
        report = check(server.endpoint(), "--format", "json", "--case", "tampered-body", code=1).json
    assert [case["id"] for case in report["items"]] == [*IDS[:3], "tampered-body"]
    assert len(server.received) == 4
    assert named(report, "failed") == ["rejects a tampered body"]


def test_cases_are_repeatable_and_run_in_the_tables_order(check):
    with serve(strict_receiver()) as server:
        args = ["--case", "stale-timestamp", "--case", "wrong-secret", "--case", "raw-body-bytes"]
        report = check(server.endpoint(), "--format", "json", *args).json
    ids = [case["id"] for case in report["items"]]
    assert ids == [*IDS[:3], "raw-body-bytes", "wrong-secret", "stale-timestamp"]
    assert named(report, "warning") == [TIMESTAMPS[0]]


def test_an_unknown_case_is_an_input_error_naming_the_nearest(check):
    with serve() as server:
        result = check(server.endpoint(), "--case", "tampered-bdy", code=2)
        other_scheme = check(server.endpoint(), "--case", "wrong-url", code=2)
    assert server.received == []
    assert result.stderr.splitlines() == [
        "invwh: error: unknown case 'tampered-bdy': did you mean tampered-body? (--list-cases lists them)"
    ]
    assert other_scheme.stderr.splitlines() == [
        "invwh: error: case wrong-url does not apply to scheme inventory-v1"
    ]


def test_each_case_not_passed_prints_the_command_that_reruns_exactly_it(check, tmp_path):
    junit = tmp_path / "check.xml"
    args = ["--seed", "7", "--expect", "200", "--expect", "202", "--strict"]
    with serve(strict_receiver()) as server:
        url = server.endpoint()
        report = check(url, "--format", "json", "--junit", junit, *args, code=1).json
        text = check(url, *args, code=1).stdout
        stale = cases_by_name(report)[TIMESTAMPS[0]]
        full_run = [r.body for r in server.received]
        rerun = shlex.split(stale["rerun"])
        settings = ["--seed", "7", "--scheme", "inventory-v1", "--expect", "200", "--expect", "202"]
        assert rerun == ["invwh", "check", "--url", url, *settings, "--strict", "--case", "stale-timestamp"]
        server.received.clear()
        again = check(url, *rerun[4:], "--format", "json", code=1).json
    assert [case["id"] for case in again["items"]] == [*IDS[:3], "stale-timestamp"]
    # The same events, and the same forged request, dated by the run.
    stale_body = server.received[3].body
    assert undated(stale_body) == undated(full_run[IDS.index("stale-timestamp") + 1])  # raw-bytes sends two
    assert [case["rerun"] for case in report["items"] if case["outcome"] == "passed"] == [None] * 11
    assert f"rerun: {stale['rerun']}" in [line.strip() for line in text.splitlines()]
    suite = ElementTree.parse(junit).getroot()
    failure = suite.find(f"testcase[@name='{TIMESTAMPS[0]}']/failure")
    assert failure is not None and f"rerun: {stale['rerun']}" in (failure.text or "")
    assert TEST_SECRET not in text and TEST_SECRET not in json.dumps(report)


def test_reproduce_writes_one_command_per_case_not_passed(check, tmp_path):
    target = tmp_path / "rerun.txt"
    target.write_text("a stale command from another run\n")
    with serve(strict_receiver()) as server:
        report = check(server.endpoint(), "--format", "json", "--reproduce", target).json
    warned = [case["rerun"] for case in report["items"] if case["outcome"] == "warning"]
    assert len(warned) == 2
    assert target.read_text() == "".join(command + "\n" for command in warned)
    assert os.listdir(tmp_path) == ["rerun.txt"]  # written beside, then renamed: no temporary left
    with serve(verifying(tolerance=300)) as server:
        check(server.endpoint(), "--reproduce", target)
    assert target.read_text() == ""  # nothing to re-run: no command of an older run stays


def test_reproduce_into_a_missing_directory_is_an_input_error_before_anything_is_sent(check, tmp_path):
    with serve() as server:
        result = check(server.endpoint(), "--reproduce", tmp_path / "no" / "rerun.txt", code=2)
    assert server.received == []
    assert result.stderr.startswith("invwh: error: cannot write ")


def test_a_payloads_case_reruns_with_the_payload(check, samples):
    payload = samples / "stock-decrease.json"
    with serve() as server:
        report = check(server.endpoint(), "--payload", payload, "--format", "json", code=1).json
    assert report["items"][0]["id"] == "accepts-payload-1"
    rerun = shlex.split(cases_by_name(report)["rejects a tampered body"]["rerun"])
    assert rerun[rerun.index("--payload") + 1] == str(payload)
    assert RAW_BYTES in cases_by_name(report)


def test_without_a_url_only_the_list_of_cases_runs(invwh):
    # --url became optional for --list-cases: a run without it is still a usage error, in one line.
    result = invwh("check", code=2, env=SECRET_ENV)
    assert result.stderr.splitlines() == ["invwh: error: missing option '--url' (see 'invwh check --help')"]


def test_a_case_run_alone_builds_on_the_same_base_as_in_the_whole_run(check):
    # A receiver that verifies re-serialized JSON accepts only json.dumps bytes: the forged
    # cases and the duplicate are built on those, alone as in the whole run.
    with serve(reserializing) as server:
        url = server.endpoint()
        check(url, "--seed", "3", code=1)
        whole = server.received[-1].body
        server.received.clear()
        alone = check(url, "--seed", "3", "--case", "duplicate-delivery", "--format", "json", code=1).json
    assert [case["id"] for case in alone["items"]] == [*IDS[:3], "raw-body-bytes", "duplicate-delivery"]
    assert undated(server.received[-1].body) == undated(whole)
    assert whole.startswith(b'{"inventoryStock')  # json.dumps bytes, not the indented event


def test_reproduce_replaces_a_symlink_never_writes_through_it(check, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not ours\n")
    target = tmp_path / "rerun.txt"
    target.symlink_to(elsewhere)
    with serve(strict_receiver()) as server:
        check(server.endpoint(), "--reproduce", target)
    assert elsewhere.read_text() == "not ours\n"
    assert not target.is_symlink() and len(target.read_text().splitlines()) == 2


def test_on_a_narrow_terminal_a_rerun_command_is_split_so_it_still_pastes(check):
    with serve(strict_receiver()) as server:
        url = server.endpoint()
        args = ["check", "--url", url, "--seed", "9", "--expect", "200", "--expect", "202"]
        code, shown = run_on_a_terminal(args, columns=60, stderr_too=False)  # stdout's layout
        expected = [case["rerun"] for case in check(url, *args[3:], "--format", "json").json["items"]]
    assert code == 0
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown).splitlines()
    assert max(cell_width(line) for line in lines) <= 60, "\n".join(lines)
    starts = [n for n, line in enumerate(lines) if line.strip().startswith("rerun: ")]
    pasted = []
    for start in starts:  # what a shell reads: each line but the last ends in a backslash
        end = start
        while lines[end].endswith(" \\"):
            end += 1
        joined = " ".join(line.strip().removesuffix(" \\") for line in lines[start : end + 1])
        pasted.append(shlex.split(joined.removeprefix("rerun: ")))
    assert pasted == [shlex.split(command) for command in expected if command]
    assert len(pasted) == 2 and end > start  # split over lines: it did not fit in 60 columns


def test_an_unknown_case_is_refused_by_the_core_without_cli_flags():
    from inventory_cli.errors import UnknownCaseError
    from inventory_cli.workflows.check_cases import select_cases

    refusal = r"^unknown case 'tampered-bdy': did you mean tampered-body\?$"
    with pytest.raises(UnknownCaseError, match=refusal):
        select_cases(("tampered-bdy",), INVENTORY_V1, 300, 1)
