"""The sample events shipped in the package, `invwh samples`, and the README's CI snippet run as written."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import INVALID_SAMPLES, ROOT, SAMPLES, TEST_SECRET, VALID_SAMPLES
from hygiene import register_secret
from jsonschema import Draft202012Validator
from servers import Received, Reply, serve

from inventory_cli.events.sample_files import shipped_samples, summary
from inventory_cli.events.validation import check_event, compile_schema, event_types, union_schema
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret
from inventory_cli.workflows.verdict import judge

PACKAGE_SAMPLES = ROOT / "inventory_cli" / "events" / "samples"
SCRIPT_DIR = Path(sys.executable).parent
#: The secret the README's CI snippet reads from $WEBHOOK_SECRET.
CI_SECRET = "ci-webhook-secret-never-printed"
register_secret(CI_SECRET)

#: Samples whose bytes no serializer would write, each with what makes it so.
REWRITTEN_BY_A_SERIALIZER = {
    "cafe-creme-pretty.json": lambda body: "Café crème, 1 L".encode() in body and b'\n    "sku"' in body,
    "escaped-unicode.json": lambda body: b"Caf\\u00e9 cr\\u00e8me, 1 L" in body and body.isascii(),
    "numbers-as-written.json": lambda body: (
        b'"quantityChange": 1e3,' in body and b'"unitWeightKg": 1.0,' in body
    ),
}

#: How receivers re-serialize before computing the HMAC: Python's default, JSON.stringify's
#: compact form with raw non-ASCII, and sorted keys (what a Go map or a canonicalizer does).
RESERIALIZERS: dict[str, Callable[[Any], str]] = {
    "json.dumps": json.dumps,
    "compact-unicode": lambda document: json.dumps(document, separators=(",", ":"), ensure_ascii=False),
    "sorted-keys": lambda document: json.dumps(document, sort_keys=True),
}


def shipped_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- the files -------------------------------------------------------------


def test_samples_in_the_repository_are_the_package_data():
    assert os.readlink(SAMPLES) == "inventory_cli/events/samples"  # relative: it holds in any checkout
    assert SAMPLES.resolve() == PACKAGE_SAMPLES.resolve()
    read = {sample.name: sample.body for sample in shipped_samples()}
    assert read == shipped_files(PACKAGE_SAMPLES)
    assert list(read) == [p.name for p in VALID_SAMPLES] + [f"invalid/{p.name}" for p in INVALID_SAMPLES]


def test_the_package_data_globs_cover_every_sample():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["inventory_cli"]
    for name in shipped_files(PACKAGE_SAMPLES):
        assert any(
            fnmatch.fnmatch(f"events/samples/{name}", g) and g.count("/") == name.count("/") + 2
            for g in globs
        ), f"events/samples/{name} would not be installed: no package-data glob matches it"


@pytest.mark.parametrize("sample", shipped_samples(), ids=lambda s: s.name)
def test_a_sample_is_valid_exactly_when_it_is_not_under_invalid(sample):
    """The same verdict from check_event, jsonschema on the union schema, and the compiled validators."""
    valid = not sample.name.startswith("invalid/")
    assert check_event(sample.body).ok is valid
    try:
        document = json.loads(sample.body)
    except ValueError:
        assert not valid
        return
    assert Draft202012Validator(union_schema()).is_valid(document) is valid
    compiled = [compile_schema(t.schema) for t in event_types()]
    by_jsonschema = [Draft202012Validator(t.schema).is_valid(document) for t in event_types()]
    assert [bool(is_valid(document)) for is_valid in compiled if is_valid] == by_jsonschema
    assert (by_jsonschema.count(True) == 1) is valid


@pytest.mark.parametrize("name", REWRITTEN_BY_A_SERIALIZER)
def test_a_serializer_would_write_other_bytes(name):
    body = (PACKAGE_SAMPLES / name).read_bytes()
    assert REWRITTEN_BY_A_SERIALIZER[name](body)
    document = json.loads(body)
    assert list(document) != sorted(document)
    assert json.dumps(json.loads(body)).encode() != body
    for reserialize in RESERIALIZERS.values():
        written = reserialize(document).encode()
        # Not just a trailing newline: the bytes a serializer writes differ inside the document.
        assert written not in (body, body.rstrip(b"\n")), reserialize


# --- a receiver that re-serializes -------------------------------------------


def verifying(reserialize: Callable[[Any], str] | None) -> Callable[[Received], Reply]:
    """A receiver that checks the signature, over the body it got or over the body serialized again."""

    def handle(request: Received) -> Reply:
        body = request.body if reserialize is None else reserialize(json.loads(request.body)).encode()
        verdict = judge(INVENTORY_V1, [Secret(TEST_SECRET)], body, request.headers)
        return Reply(200 if verdict.valid else 401)

    return handle


def send_samples(invwh, url: str, code: int) -> dict[str, int]:
    report = invwh("send", SAMPLES, "--url", url, "--format", "json", code=code,
                   env={"INVWH_SECRET": TEST_SECRET}).json  # fmt: skip
    return {Path(d["payload"]).name: d["status"] for d in report["items"]}


def test_a_verifying_receiver_accepts_every_sample(invwh):
    with serve(verifying(None)) as server:
        statuses = send_samples(invwh, server.endpoint(), 0)
    assert statuses == {p.name: 200 for p in VALID_SAMPLES}
    assert [r.body for r in server.received] == [p.read_bytes() for p in VALID_SAMPLES]


@pytest.mark.parametrize("kind", RESERIALIZERS)
def test_a_receiver_that_reserializes_before_verifying_gets_401(invwh, kind):
    with serve(verifying(RESERIALIZERS[kind])) as server:
        statuses = send_samples(invwh, server.endpoint(), 1)
    assert set(statuses) == {p.name for p in VALID_SAMPLES}
    for name in REWRITTEN_BY_A_SERIALIZER:
        assert statuses[name] == 401, name
    # The bytes went out as they are in the files: the receiver is at fault, not the sender.
    assert [r.body for r in server.received] == [p.read_bytes() for p in VALID_SAMPLES]


# --- invwh samples -------------------------------------------------------------


def test_the_list_names_each_sample_its_event_or_why_not_and_its_size(invwh):
    # A wide log: a row per sample. At 80 columns (a pipe's default) the long reasons wrap.
    lines = invwh("samples", env={"COLUMNS": "120"}).stdout.splitlines()
    assert lines[0].split() == ["sample", "event", "size"]
    rows = lines[1:-1]
    assert len(rows) == len(shipped_samples())
    for row, sample in zip(rows, shipped_samples(), strict=True):
        assert re.fullmatch(
            rf"{re.escape(sample.name)} +{re.escape(summary(sample.check()))} +{len(sample.body)} B", row
        )
    assert "invalid/truncated.json" in rows[-3] and "invalid: not JSON" in rows[-3]
    assert "invalid/array.json" in rows[-5] and "invalid: expected a JSON object, got an array" in rows[-5]
    assert lines[-1].startswith("12 samples, 7 valid and 5 invalid")


def test_the_json_list_is_what_validate_says(invwh):
    listed = invwh("samples", "--format", "json").json["samples"]
    assert [s["name"] for s in listed] == [s.name for s in shipped_samples()]
    for entry in listed:
        path = PACKAGE_SAMPLES / entry["name"]
        assert entry["size"] == path.stat().st_size
        validated = invwh("validate", path, "--format", "json", code=(0, 1)).json["files"][0]
        assert {k: entry[k] for k in ("valid", "event_type", "problems")} == {
            k: validated[k] for k in ("valid", "event_type", "problems")
        }


def test_writing_creates_the_directory_and_copies_byte_for_byte(invwh, tmp_path):
    target = tmp_path / "deep" / "samples"
    result = invwh("samples", target)
    assert shipped_files(target) == shipped_files(PACKAGE_SAMPLES)
    assert f"written  {target / 'invalid' / 'array.json'}" in result.stdout
    assert result.stdout.splitlines()[-1] == f"12 samples in {target}: 12 written"
    # What was written is what `send samples/` and `validate` expect.
    assert "7 valid, 0 invalid" in invwh("validate", *sorted(target.glob("*.json"))).stdout
    assert (
        "0 valid, 5 invalid" in invwh("validate", *sorted((target / "invalid").glob("*.json")), code=1).stdout
    )


def test_identical_files_are_fine_and_reported_unchanged(invwh, tmp_path):
    invwh("samples", tmp_path)
    again = invwh("samples", tmp_path, "--format", "json").json
    assert again["directory"] == str(tmp_path)
    assert {s["action"] for s in again["samples"]} == {"unchanged"}
    assert [s["path"] for s in again["samples"]] == [str(tmp_path / s.name) for s in shipped_samples()]


def test_a_different_file_stops_the_run_before_anything_is_written(invwh, tmp_path):
    edited = tmp_path / "invalid" / "array.json"
    edited.parent.mkdir()
    edited.write_bytes(b"[]")
    (tmp_path / "stock-increase.json").write_bytes(b"{}")
    result = invwh("samples", tmp_path, code=2)
    assert result.stdout == ""
    assert result.stderr == (
        f"invwh: error: {tmp_path / 'stock-increase.json'} and 1 more: already exists with other content; "
        "nothing written (--force overwrites)\n"
    )
    assert shipped_files(tmp_path) == {"invalid/array.json": b"[]", "stock-increase.json": b"{}"}


def test_force_overwrites_a_different_file(invwh, tmp_path):
    (tmp_path / "stock-increase.json").write_bytes(b"{}")
    invwh("samples", tmp_path, "--force", code=0)
    written = invwh("samples", tmp_path, "--format", "json").json["samples"]
    assert shipped_files(tmp_path) == shipped_files(PACKAGE_SAMPLES)
    assert {s["action"] for s in written} == {"unchanged"}
    (tmp_path / "stock-increase.json").write_bytes(b"{}")
    forced = invwh("samples", tmp_path, "--force", "--format", "json").json["samples"]
    assert {s["name"]: s["action"] for s in forced}["stock-increase.json"] == "overwritten"
    assert (tmp_path / "stock-increase.json").read_bytes() == (
        PACKAGE_SAMPLES / "stock-increase.json"
    ).read_bytes()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "file").write_text("x"), "exists and is not a directory"),
        (
            lambda d: (d / "file" / "invalid" / "array.json").mkdir(parents=True),
            "is a directory, where a sample",
        ),
    ],
    ids=["dir-is-a-file", "a-directory-in-the-way"],
)
def test_a_target_that_cannot_be_written_is_one_line(invwh, tmp_path, make, message):
    make(tmp_path)
    result = invwh("samples", tmp_path / "file", code=2)
    assert result.stderr.startswith("invwh: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_dangling_link_inside_the_directory_is_refused_and_nothing_written(invwh, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "samples"
    target.mkdir()
    (target / "stock-increase.json").symlink_to(outside / "planted.json")  # dangling
    for force in ((), ("--force",)):
        result = invwh("samples", target, *force, code=2)
        assert result.stderr == (
            f"invwh: error: {target / 'stock-increase.json'}: is a symbolic link; nothing written "
            "(invwh does not write through links)\n"
        )
        assert list(outside.iterdir()) == [], "nothing is created outside the directory named"
        assert sorted(p.name for p in target.iterdir()) == ["stock-increase.json"]


def test_force_never_writes_through_a_link_to_a_file_elsewhere(invwh, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"keep me")
    target = tmp_path / "samples"
    target.mkdir()
    (target / "invalid").mkdir()
    (target / "invalid" / "array.json").symlink_to(precious)
    invwh("samples", target, "--force", code=2)
    assert precious.read_bytes() == b"keep me"
    assert (target / "invalid" / "array.json").is_symlink()
    assert shipped_files(target) == {"invalid/array.json": b"keep me"}, "nothing else was written either"


def test_a_dangling_directory_link_stops_the_run_before_the_first_file(invwh, tmp_path):
    target = tmp_path / "samples"
    target.mkdir()
    (target / "invalid").symlink_to(tmp_path / "elsewhere")  # dangling: makedirs would fail half-way
    result = invwh("samples", target, code=2)
    assert result.stderr == (
        f"invwh: error: {target / 'invalid'}: is a symbolic link; nothing written "
        "(invwh does not write through links)\n"
    )
    assert [p.name for p in target.iterdir()] == ["invalid"], "not one sample was written"
    assert not (tmp_path / "elsewhere").exists()


def test_an_empty_directory_is_a_usage_error_not_the_current_one(invwh, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invwh("samples", "", code=2)
    assert result.stderr.startswith("invwh: error: the directory is an empty path")
    assert list(tmp_path.iterdir()) == []


def test_a_sample_is_replaced_by_a_rename_never_rewritten_in_place(invwh, tmp_path):
    invwh("samples", tmp_path)
    path = tmp_path / "stock-increase.json"
    path.write_bytes(b"{}")
    path.chmod(0o640)
    before = path.stat().st_ino
    invwh("samples", tmp_path, "--force")
    assert path.read_bytes() == (PACKAGE_SAMPLES / "stock-increase.json").read_bytes()
    assert path.stat().st_ino != before, "a new file renamed over the old one"
    assert path.stat().st_mode & 0o777 == 0o640, "a replaced file keeps its mode"
    assert not [p for p in tmp_path.rglob(".*.tmp")], "no temporary file is left"


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(invwh, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)], check=True, timeout=30)
    try:
        result = invwh("samples", disk, code=2)
        assert result.stderr.count("\n") == 1 and "No space left on device" in result.stderr
        assert not [p for p in disk.rglob(".*.tmp")], "no temporary file is left"
        for written in disk.rglob("*.json"):  # the files that fitted are whole
            assert written.read_bytes() == (PACKAGE_SAMPLES / written.relative_to(disk)).read_bytes()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True, timeout=30)


def test_help_has_examples(invwh):
    text = invwh("samples", "--help").stdout
    assert "Examples:\n    invwh samples\n    invwh samples samples/\n" in text
    assert "List the shipped sample events" in invwh("--help").stdout


# --- the README's CI smoke test, run as written --------------------------------


def ci_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A CI smoke test", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(group: int) -> None:
    """SIGTERM to the snippet's whole process group (its `&` app too), then wait for it to be gone."""
    for sig, patience in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def test_the_readme_ci_snippet_works_in_a_fresh_project(tmp_path):
    snippet = ci_snippet()
    assert "my-app" in snippet and "invwh samples samples/" in snippet and "--junit report.xml" in snippet
    assert "curl" not in snippet
    project = tmp_path / "someone-elses-project"
    project.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "received.jsonl"
    # The user's app, here a verifying receiver: invwh listen on the port it is given.
    app = bin_dir / "my-app"
    app.write_text(
        '#!/bin/sh\n[ "$1" = --port ] || { echo "usage: my-app --port PORT" >&2; exit 64; }\n'
        f'exec invwh listen --port "$2" --record {record}\n'
    )
    app.chmod(0o755)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVWH_") and k != "PYTHONPATH"}
    env.update(PATH=os.pathsep.join([str(bin_dir), str(SCRIPT_DIR), env.get("PATH", "")]),
               WEBHOOK_SECRET=CI_SECRET, PORT=str(port), NO_COLOR="1")  # fmt: skip
    # Files, not pipes: the app in the background would hold a pipe open after bash exits.
    with open(tmp_path / "ci.out", "wb") as out, open(tmp_path / "ci.err", "wb") as err:
        process = subprocess.Popen(["bash", "-c", snippet], cwd=project, env=env, stdout=out, stderr=err,
                                   start_new_session=True)  # fmt: skip
        try:
            code = process.wait(timeout=120)
        finally:
            stop_group(process.pid)
            process.wait(timeout=10)
    stdout = (tmp_path / "ci.out").read_text(encoding="utf-8")
    stderr = (tmp_path / "ci.err").read_text(encoding="utf-8")
    assert code == 0, f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert "Traceback" not in stderr
    report = (project / "report.xml").read_text(encoding="utf-8")
    assert 'tests="7"' in report and 'failures="0"' in report and 'errors="0"' in report
    received = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["body"].encode() for r in received) == sorted(p.read_bytes() for p in VALID_SAMPLES)
    assert {r["status"] for r in received} == {200}
    assert shipped_files(project / "samples") == shipped_files(PACKAGE_SAMPLES)


def test_the_core_refuses_an_edited_sample_in_words_without_cli_flags(tmp_path):
    """A Python caller has no --force: the flag is the CLI's advice, added there."""
    from inventory_cli.errors import ExistingFilesError
    from inventory_cli.events.sample_files import write_samples

    shipped = shipped_samples()
    write_samples(str(tmp_path), shipped)
    edited = tmp_path / shipped[0].name
    edited.write_bytes(b"{}")
    with pytest.raises(ExistingFilesError) as refused:
        write_samples(str(tmp_path), shipped)
    assert "--" not in str(refused.value)
    assert refused.value.paths == [str(edited)]
    assert edited.read_bytes() == b"{}"
