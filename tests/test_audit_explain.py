"""`invwh audit RECORDING --explain`: each failure with the likely cause `verify` names for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_SECRET
from test_replay import DECREASE, DEPLETED, INCREASE, recorded_line

from inventory_cli.signing.schemes import GITHUB, INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.workflows.audit import audit
from inventory_cli.workflows.recording import read_recording

SIGNED_AT = 1_000_000_000
PRETTY = b'{\n  "inventoryStockDecreaseEventType": "stock.decrease",\n  "sku": "BOLT-M8-40"\n}\n'


def signed_headers(body: bytes, **options: object) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(INVENTORY_V1, Secret(TEST_SECRET), body, **options)}


#: (line, recorded body, recorded headers, the likely cause that line must show)
DELIVERIES = [
    (1, INCREASE, signed_headers(INCREASE, timestamp=SIGNED_AT), None),  # valid
    (2, INCREASE + b"\n", signed_headers(INCREASE, timestamp=SIGNED_AT), "without its trailing newline"),
    (3, PRETTY.replace(b"\n", b"\r\n"), signed_headers(PRETTY, timestamp=SIGNED_AT),
     "signed with LF line endings and arrived with CRLF"),
    (4, DEPLETED, {"X-Timestamp": str(SIGNED_AT), **sign(GITHUB, Secret(TEST_SECRET), DEPLETED)},
     "there is a X-Hub-Signature-256 header: try --scheme github"),
    (5, DECREASE, signed_headers(DECREASE, timestamp=SIGNED_AT, method="PUT"), "method PUT, not POST"),
]  # fmt: skip


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "deliveries.jsonl"
    lines = [recorded_line(body, received_at=SIGNED_AT + 1, headers=h) for _, body, h, _ in DELIVERIES]
    lines.append(b"{not JSON\n")  # 6: malformed, nothing to explain
    path.write_bytes(b"".join(lines))
    return path


def run_audit(invwh, recording, *args, code=1):
    # A wide log (text is laid out for 80 columns unless COLUMNS says): the tests read whole lines.
    env = {"INVWH_SECRET": TEST_SECRET, "COLUMNS": "300"}
    return invwh("audit", recording, *args, code=code, env=env)


def test_explain_prints_the_likely_cause_under_each_failing_line(invwh, recording):
    text = run_audit(invwh, recording, "--explain").stdout
    lines = text.splitlines()
    for number, _, _, cause in DELIVERIES[1:]:
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"line {number}: ✗")]
        assert lines[at + 1].startswith("  likely cause: ") and cause in lines[at + 1], lines[at : at + 2]
    (malformed,) = [i for i, line in enumerate(lines) if line.startswith("line 6: ✗ malformed line")]
    assert not lines[malformed + 1].startswith("  likely cause")
    assert "1 of 5 deliveries valid; 1 malformed line" in text


def test_without_explain_no_cause_is_looked_for(invwh, recording):
    text = run_audit(invwh, recording).stdout
    assert "likely cause" not in text
    report = run_audit(invwh, recording, "--format", "json").json
    assert all("hints" not in failure for failure in report["failures"])


def test_the_causes_are_those_verify_names_for_each_delivery(invwh, recording, tmp_path):
    report = run_audit(invwh, recording, "--explain", "--format", "json").json
    hints = {failure["line"]: failure["hints"] for failure in report["failures"]}
    assert hints[6] == []  # the malformed line
    for number, body, headers, cause in DELIVERIES[1:]:
        body_path = tmp_path / f"body-{number}"
        body_path.write_bytes(body)
        header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
        verdict = invwh("verify", "--body", body_path, *header_args, "--now", str(SIGNED_AT + 1),
                        "--secret", TEST_SECRET, "--format", "json", code=1).json  # fmt: skip
        assert hints[number] == verdict["hints"]
        assert len(hints[number]) == 1 and cause in hints[number][0]


def test_the_core_explains_only_failures_and_only_when_asked(recording):
    secrets = [Secret(TEST_SECRET)]
    plain = list(audit(read_recording(recording), INVENTORY_V1, secrets))
    explained = list(audit(read_recording(recording), INVENTORY_V1, secrets, explain=True))
    assert [item.hints for item in plain] == [()] * 6
    assert [item.reason for item in plain] == [item.reason for item in explained]
    assert explained[0].hints == () and all(item.hints for item in explained[1:5])


def test_explain_goes_with_a_recording(invwh, tmp_path):
    body = tmp_path / "b.json"
    body.write_bytes(INCREASE)
    result = invwh("verify", "--body", body, "--explain", "--secret", TEST_SECRET, code=2)
    assert "no such option '--explain': a recording is audited by 'invwh audit RECORDING'" in result.stderr
