"""`invwh audit RECORDING`: every delivery of a recording judged as it was on arrival."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from test_replay import DECREASE, DEPLETED, INCREASE, recorded_line

from inventory_cli.signing.signatures import Secret

SIGNED_AT = 1_000_000_000  # September 2001: every timestamp here is decades old today
NOT_AN_EVENT = b'{"inventoryStockRestockedEventType": "stock.restocked"}'


def mixed_recording(path: Path) -> None:
    lines = [
        recorded_line(INCREASE, received_at=SIGNED_AT + 2, timestamp=SIGNED_AT),  # 1 valid
        recorded_line(DECREASE, received_at=SIGNED_AT, secret=Secret("another-secret")),  # 2
        recorded_line(  # 3 no signature
            DEPLETED,
            received_at=SIGNED_AT,
            headers={"Content-Type": "application/json", "X-Timestamp": str(SIGNED_AT)},
        ),
        recorded_line(INCREASE, received_at=SIGNED_AT + 3600, timestamp=SIGNED_AT),  # 4 stale
        recorded_line(NOT_AN_EVENT, received_at=SIGNED_AT),  # 5 invalid payload
        b"{not JSON at all\n",  # 6
        recorded_line(DEPLETED, received_at=SIGNED_AT + 10, timestamp=SIGNED_AT),  # 7 valid
        b'{"method": "POST", "headers": {}}\n',  # 8 no body
        recorded_line(DECREASE, received_at=SIGNED_AT - 3600, timestamp=SIGNED_AT),  # 9 future
        recorded_line(b"", received_at=SIGNED_AT, method="GET"),  # 10 not a delivery
    ]
    path.write_bytes(b"".join(lines))


@pytest.fixture
def audit(invwh):
    def run(path, *args, code=0, input=None):
        return invwh("audit", path, *args, code=code, input=input, env={"INVWH_SECRET": TEST_SECRET})

    return run


def table_row(text: str, name: str) -> list[int]:
    """The four counts of the summary table's row for ``name``."""
    (row,) = [line.split() for line in text.splitlines() if line.strip().startswith(name + " ")]
    return [int(count) for count in row[-4:]]


def test_a_mixed_recording_lists_failures_and_a_summary_per_event_type(audit, tmp_path):
    recording = tmp_path / "r.jsonl"
    mixed_recording(recording)
    text = audit(recording, code=1).stdout
    failures = [line for line in text.splitlines() if line.startswith("line ")]
    assert [int(re.match(r"line (\d+):", line)[1]) for line in failures] == [2, 3, 4, 5, 6, 8, 9]
    assert "line 2: ✗ bad signature: signature_mismatch (stock.decrease)" in failures
    assert "line 3: ✗ bad signature: missing_signature (stock.depleted)" in failures
    assert "line 4: ✗ stale: stale_timestamp (stock.increase)" in failures
    assert "line 5: ✗ invalid payload: invalid_payload (not an event)" in failures
    assert failures[4].startswith("line 6: ✗ malformed line: not JSON")
    assert "line 9: ✗ stale: future_timestamp (stock.decrease)" in failures
    # columns: valid, bad signature, stale, invalid payload
    assert table_row(text, "stock.increase") == [1, 0, 1, 0]
    assert table_row(text, "stock.decrease") == [0, 1, 1, 0]
    assert table_row(text, "stock.depleted") == [1, 1, 0, 0]
    assert table_row(text, "(not an event)") == [0, 0, 0, 1]
    assert table_row(text, "all") == [2, 2, 2, 1]
    assert "2 of 7 deliveries valid; 2 malformed lines; 1 other request skipped" in text


def test_a_mixed_recording_as_json(audit, tmp_path):
    recording = tmp_path / "r.jsonl"
    mixed_recording(recording)
    report = audit(recording, "--format", "json", code=1).json
    assert report["recording"] == str(recording)
    assert report["ok"] is False
    assert [(f["line"], f["category"], f["event_type"]) for f in report["failures"]] == [
        (2, "bad signature", "stock.decrease"),
        (3, "bad signature", "stock.depleted"),
        (4, "stale", "stock.increase"),
        (5, "invalid payload", None),
        (6, "malformed line", None),
        (8, "malformed line", None),
        (9, "stale", "stock.decrease"),
    ]
    reasons = [f["reason"] for f in report["failures"]]
    assert reasons[:4] + reasons[5:] == [
        "signature_mismatch",
        "missing_signature",
        "stale_timestamp",
        "invalid_payload",
        "no body",
        "future_timestamp",
    ]
    assert reasons[4].startswith("not JSON")

    def row(valid=0, bad=0, stale=0, invalid=0):
        return {"valid": valid, "bad_signature": bad, "stale": stale, "invalid_payload": invalid}

    assert report["summary"] == {
        "deliveries": 7,
        "malformed_lines": 2,
        "skipped_requests": 1,
        **row(valid=2, bad=2, stale=2, invalid=1),
        "by_event_type": {
            "(not an event)": row(invalid=1),
            "stock.decrease": row(bad=1, stale=1),
            "stock.depleted": row(valid=1, bad=1),
            "stock.increase": row(valid=1, stale=1),
        },
    }


def test_an_all_valid_recording_exits_0(audit, tmp_path):
    recording = tmp_path / "r.jsonl"
    bodies = [INCREASE, DECREASE, DEPLETED, INCREASE]
    recording.write_bytes(
        b"".join(recorded_line(body, received_at=SIGNED_AT + n) for n, body in enumerate(bodies))
    )
    text = audit(recording).stdout
    assert not [line for line in text.splitlines() if line.startswith("line ")]
    assert table_row(text, "stock.increase") == [2, 0, 0, 0]
    assert table_row(text, "all") == [4, 0, 0, 0]
    assert "4 of 4 deliveries valid" in text
    assert audit(recording, "--format", "json").json["ok"] is True


@pytest.mark.parametrize(
    ("delay", "options", "reason"),
    [
        (10, [], None),
        (-10, [], None),
        (400, [], "stale_timestamp"),
        (-400, [], "future_timestamp"),
        (400, ["--tolerance", "500"], None),
        (400, ["--tolerance", "0"], None),
        (40, ["--tolerance", "30"], "stale_timestamp"),
    ],
)
def test_tolerance_is_measured_against_each_received_time(audit, tmp_path, delay, options, reason):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE, received_at=SIGNED_AT + delay, timestamp=SIGNED_AT))
    report = audit(recording, *options, "--format", "json", code=0 if reason is None else 1).json
    assert [f["reason"] for f in report["failures"]] == ([] if reason is None else [reason])


def test_key_rotation(audit, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(
        recorded_line(INCREASE, received_at=SIGNED_AT, secret=Secret("old-secret"))
        + recorded_line(DEPLETED, received_at=SIGNED_AT, secret=Secret("new-secret"))
    )
    only_old = audit(recording, "--secret", "old-secret", "--format", "json", code=1).json
    assert [(f["line"], f["reason"]) for f in only_old["failures"]] == [(2, "signature_mismatch")]
    audit(recording, "--secret", "old-secret", "--secret", "new-secret")
    audit(recording, "--secret", "new-secret", "--secret", "old-secret")


def test_no_validate_checks_signatures_only(audit, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(NOT_AN_EVENT, received_at=SIGNED_AT))
    audit(recording, code=1)
    audit(recording, "--no-validate")


def test_reads_the_recording_from_stdin(audit, tmp_path):
    data = recorded_line(INCREASE, received_at=SIGNED_AT) + recorded_line(
        DECREASE, received_at=SIGNED_AT, secret=Secret("another-secret")
    )
    report = audit("-", "--format", "json", input=data, code=1).json
    assert report["summary"]["deliveries"] == 2
    assert [f["line"] for f in report["failures"]] == [2]


MOVED = "no such option '--recording': a recording is audited by 'invwh audit RECORDING'"


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "--body", "body.json", "--recording", "r.jsonl"], MOVED),
        (["verify", "--recording", "r.jsonl"], MOVED),
        (["verify", "--recording=-"], MOVED),
        (["verify"], "missing option '--body'"),
        (["audit"], "missing argument 'RECORDING'"),
        (["audit", "r.jsonl", "-H", "X-Timestamp: 1"], "no such option '-H'"),
        (["audit", "r.jsonl", "--now", "1"], "no such option '--now'"),
    ],
    ids=["verify-both", "verify-recording", "verify-recording-equals", "verify-neither", "audit-neither",
         "audit-headers", "audit-now"],
)  # fmt: skip
def test_a_delivery_or_a_recording_is_a_usage_error_elsewhere(invwh, tmp_path, args, message):
    (tmp_path / "body.json").write_bytes(INCREASE)
    (tmp_path / "r.jsonl").write_bytes(recorded_line(INCREASE))
    args = [str(tmp_path / a) if a.endswith((".json", ".jsonl")) else a for a in args]
    result = invwh(*args, code=2, env={"INVWH_SECRET": TEST_SECRET})
    assert result.stdout == ""
    assert result.stderr.startswith("invwh: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and f"(see 'invwh {args[0]} --help')" in result.stderr


def test_audit_help_shows_examples(invwh):
    shown = invwh("audit", "--help").stdout
    examples = shown[shown.index("Examples:") :].splitlines()[1:]
    assert any(line.strip().startswith("invwh audit deliveries.jsonl --secret-file") for line in examples)
    assert "invwh audit" in invwh("--help").stdout
    assert "--recording" not in invwh("verify", "--help").stdout


def test_a_missing_recording_exits_2_with_one_line(audit, tmp_path):
    result = audit(tmp_path / "nope.jsonl", code=2)
    (line,) = result.stderr.splitlines()
    assert line == f"invwh: error: recording {tmp_path / 'nope.jsonl'}: no such file"


def test_a_big_recording_is_audited_in_constant_memory(audit, tmp_path):
    deliveries = 20_000
    padding = "x" * 1000  # about 1.4 kB a line: holding the lines would take tens of MB
    bodies = [
        json.dumps({**json.loads(body), "note": padding}).encode() for body in (INCREASE, DECREASE, DEPLETED)
    ]
    lines = [recorded_line(body, received_at=SIGNED_AT + 5, timestamp=SIGNED_AT) for body in bodies]
    recording = tmp_path / "big.jsonl"
    with recording.open("wb") as out:
        for n in range(deliveries):
            out.write(lines[n % 3])
        out.write(b"not JSON\n")
    size = recording.stat().st_size
    warm_up = tmp_path / "small.jsonl"
    warm_up.write_bytes(b"".join(lines))
    audit(warm_up, "--format", "json")  # imports and caches are not the audit's memory

    tracemalloc.start()
    try:
        report = audit(recording, "--format", "json", code=1).json
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report["summary"]["deliveries"] == deliveries
    assert report["summary"]["valid"] == deliveries
    assert [(f["line"], f["category"]) for f in report["failures"]] == [(deliveries + 1, "malformed line")]
    assert size > 25_000_000
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB auditing a {size / 1e6:.0f} MB recording"


def test_a_post_to_another_path_is_skipped_not_judged(audit, tmp_path):
    from test_replay import record_with_listen

    recording = tmp_path / "r.jsonl"
    record_with_listen(recording)
    text = audit(recording)
    result = audit(recording, "--format", "json")
    assert not [line for line in text.stdout.splitlines() if line.startswith("line ")]  # no failure
    assert "1 of 1 deliveries valid; 2 other requests skipped" in text.stdout
    assert result.json["failures"] == []
    assert (result.json["summary"]["deliveries"], result.json["summary"]["skipped_requests"]) == (1, 2)


@pytest.mark.parametrize("lines", [b"", recorded_line(b"", method="GET")], ids=["empty", "only-a-get"])
def test_a_recording_with_no_delivery_is_an_input_error(audit, tmp_path, lines):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(lines)
    text = audit(recording, code=2)
    result = audit(recording, "--format", "json", code=2)
    error = f"{recording} holds no deliveries"
    assert text.stderr.splitlines() == [f"invwh: error: {error}"]
    assert result.stderr.splitlines() == [f"invwh: error: {error}"]
    assert (result.json["ok"], result.json["error"]) == (False, error)
