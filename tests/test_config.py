"""The config file: where it is found, what it may say, the refusal of unsafe secrets, the
precedence flag > environment > config > default, and a custom scheme used end to end."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import queue
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import ROOT, SAMPLES, TEST_SECRET, VALID_SAMPLES
from hygiene import register_secret
from test_listen import listen_subprocess

from inventory_cli.config.load import Config, load_config
from inventory_cli.errors import ConfigError
from inventory_cli.signing.schemes import INVENTORY_V1, Scheme
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import Receiver, ReceiverConfig

FILE_SECRET = "plain-secret-from-the-config-file"
NAMED_ENV_SECRET = "secret-from-the-variable-secret_env-names"
ENV_SECRET = "secret-from-INVWH_SECRET"
FLAG_SECRET = "secret-from-the-flag"
register_secret(FILE_SECRET, NAMED_ENV_SECRET, ENV_SECRET, FLAG_SECRET)

KNOWN = SAMPLES / "minimal-increase.json"
NOW = 1_700_000_000

ACME = """
    [schemes.acme]
    summary = "Acme's partner webhooks"
    signature_header = "X-Acme-Signature"
    hash = "sha384"
    encoding = "base64url"
    value_template = "sha384={digest}"
    message_template = "{timestamp}:{method}:{header:X-Acme-Account}:{body}"
    timestamp_header = "X-Acme-Time"
"""


def write(directory: Path, text: str, name: str = "invwh.toml", mode: int = 0o644) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """An empty working directory, outside any git repository."""
    monkeypatch.chdir(tmp_path)
    for name in ("INVWH_SCHEME", "INVWH_URL", "INVWH_TOLERANCE", "INVWH_CONFIG", "INVWH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def acme_scheme(directory: Path) -> Scheme:
    config = load_config(directory=directory)
    assert config is not None
    return config.get_scheme("acme")


# --- where the settings come from ----------------------------------------------------


def test_no_config_file(here):
    assert load_config() is None


def test_invwh_toml_in_the_current_directory(here):
    write(here, 'url = "http://localhost:3000/webhooks"\nscheme = "stripe"\ntolerance = 60\n' + ACME)
    config = load_config()
    assert config == Config(
        path="invwh.toml",
        url="http://localhost:3000/webhooks",
        scheme="stripe",
        tolerance=60,
        schemes={"acme": config.schemes["acme"]},
    )
    acme = config.schemes["acme"]
    assert (acme.hash, acme.encoding, acme.timestamp_header) == ("sha384", "base64url", "X-Acme-Time")


def test_tool_invwh_in_pyproject(here):
    write(here, '[project]\nname = "app"\n\n[tool.invwh]\nscheme = "acme"\n\n' + ACME.replace(
        "[schemes.acme]", "[tool.invwh.schemes.acme]"), name="pyproject.toml")  # fmt: skip
    config = load_config()
    assert (config.path, config.scheme) == ("pyproject.toml", "acme")


def test_invwh_toml_wins_over_pyproject(here):
    write(here, '[tool.invwh]\nscheme = "github"\n', name="pyproject.toml")
    write(here, 'scheme = "stripe"\n')
    assert load_config().scheme == "stripe"


def test_a_pyproject_without_tool_invwh_is_no_config(here):
    write(here, '[project]\nname = "app"\n[tool.ruff]\nline-length = 100\n', name="pyproject.toml")
    assert load_config() is None


@pytest.mark.parametrize("directory", ["empty", "this repository"])
def test_without_a_config_file_toml_is_not_even_imported(tmp_path, directory):
    code = (
        "import sys; from inventory_cli.config.load import load_config; assert load_config() is None; "
        "assert not {'tomllib', 'tomli'} & set(sys.modules), 'TOML was parsed'"
    )
    cwd = tmp_path if directory == "empty" else ROOT
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_config_option_and_environment_variable(invwh, here):
    elsewhere = here / "conf"
    elsewhere.mkdir()
    write(elsewhere, 'scheme = "github"\n', name="team.toml")
    write(here, 'scheme = "stripe"\n')
    env = {"INVWH_SECRET": TEST_SECRET}
    assert invwh("sign", KNOWN, "--format", "json", env=env).json["scheme"] == "stripe"
    assert invwh("--config", "conf/team.toml", "sign", KNOWN, "--format", "json", env=env).json["scheme"] == (
        "github"
    )
    from_env = invwh("sign", KNOWN, "--format", "json", env={**env, "INVWH_CONFIG": "conf/team.toml"})
    assert from_env.json["scheme"] == "github"


def test_an_explicit_pyproject_is_read_for_its_tool_invwh_table(invwh, here):
    write(here, '[tool.invwh]\nscheme = "github"\n', name="pyproject.toml")
    result = invwh("--config", "pyproject.toml", "schemes", "--format", "json")
    assert result.json["default"] == "github"
    write(here, "[project]\n", name="pyproject.toml")
    assert (
        "pyproject.toml: no [tool.invwh] table"
        in invwh("--config", "pyproject.toml", "schemes", code=2).stderr
    )


def command_reading(text: str) -> list[str]:
    """A command that reads the setting ``text`` sets: only those say what is wrong with it."""
    key = text.split("=")[0].strip()
    return {
        "url": ["send", KNOWN, "--secret", TEST_SECRET],
        "tolerance": ["verify", "--body", KNOWN],
        "secret_env": ["sign", KNOWN],
        "secret": ["sign", KNOWN],
    }.get(key, ["schemes"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("urll = 'x'", "invwh.toml: urll is not a setting (known: url, scheme, tolerance, secret_env"),
        ("url = 'localhost:3000'", "invwh.toml: url 'localhost:3000' is not a usable URL: it needs http://"),
        ("url = 'http://[::1/x'", "invwh.toml: url 'http://[::1/x' is not a usable URL: the host's brackets"),
        ("url = 'http://h:99999/'", "invwh.toml: url 'http://h:99999/' is not a usable URL: port 99999"),
        ("url = 3000", "invwh.toml: url must be an http:// or https:// URL"),
        ("url = ['http://h/']", "invwh.toml: url must be an http:// or https:// URL"),
        ("tolerance = -1", "invwh.toml: tolerance must be a whole number of seconds, 0 or more"),
        ("tolerance = 2.5", "invwh.toml: tolerance must be a whole number"),
        ("tolerance = true", "invwh.toml: tolerance must be a whole number"),
        ("scheme = 'acmee'", "invwh.toml: scheme must name a built-in scheme or one under [schemes]"),
        ("secret_env = 'MY SECRET'", "invwh.toml: secret_env must be the name of an environment variable"),
        ("secret = ''", "invwh.toml: secret must be a non-empty string"),
        ("schemes = 3", "invwh.toml: schemes must be a table of schemes"),
        ("[schemes]\nacme = 'x'", "invwh.toml: schemes.acme must be a table"),
        ("[schemes.acme]\nhash = 'sha256'", "invwh.toml: schemes.acme needs signature_header"),
        ("[schemes.acme]\nsignature_header = 'X-S'\nhashh = 'sha256'",
         "invwh.toml: schemes.acme.hashh is not a scheme field (known: summary, signature_header, hash"),
        ("[schemes.acme]\nsignature_header = 'X-S'\nhash = 'md5'",
         "invwh.toml: schemes.acme.hash must be one of sha1, sha256, sha384, sha512"),
        ("[schemes.acme]\nsignature_header = 'X-S'\ntimestamp_header = 5",
         "invwh.toml: schemes.acme.timestamp_header must be a string"),
        ("[schemes.acme]\nsignature_header = 'X-S'\nmessage_template = '{timestamp}{body}'",
         "invwh.toml: schemes.acme.message_template uses {timestamp} but no timestamp_header is set"),
        ("[schemes.acme]\nsignature_header = 'X-S'\nvalue_template = 'v1='",
         "invwh.toml: schemes.acme.value_template needs one {digest}"),
        ('[schemes."a b"]\nsignature_header = "X-S"', "invwh.toml: schemes.a b is not a usable scheme name"),
        ("[schemes.github]\nsignature_header = 'X-Hub-Signature'",
         "invwh.toml: schemes.github differs from the built-in github scheme: give yours another name"),
        ("url = ", "invwh.toml: not valid TOML: "),
    ],
)  # fmt: skip
def test_a_bad_config_is_one_clear_line_naming_the_file_and_key(invwh, here, text, message):
    write(here, text)
    result = invwh(*command_reading(text), code=2)
    assert result.stderr.startswith(f"invwh: error: {message}")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_pyproject_errors_name_the_key_under_tool_invwh(invwh, here):
    write(
        here,
        "[tool.invwh.schemes.acme]\nsignature_header = 'X-S'\nencoding = 'base32'\n",
        name="pyproject.toml",
    )
    assert (
        "pyproject.toml: tool.invwh.schemes.acme.encoding must be one of hex, base64, base64url"
        in invwh("schemes", code=2).stderr
    )


def test_a_config_file_that_cannot_be_read(invwh, here):
    assert "config file nope.toml: no such file" in invwh("--config", "nope.toml", "schemes", code=2).stderr
    assert "config file .: is a directory" in invwh("--config", ".", "schemes", code=2).stderr
    (here / "bad.toml").write_bytes(b"url = '\xff'")
    assert "config file bad.toml: not UTF-8 text" in invwh("--config", "bad.toml", "schemes", code=2).stderr


def test_a_pasted_copy_of_a_built_in_scheme_is_accepted(invwh, here):
    block = invwh("schemes", "show", "standard-webhooks").stdout
    write(here, 'scheme = "standard-webhooks"\n' + block)
    assert load_config().scheme == "standard-webhooks"
    assert [s["name"] for s in invwh("schemes", "--format", "json").json["schemes"]].count(
        "standard-webhooks"
    ) == 1


# --- a plain secret in the file -----------------------------------------------------------


def test_a_plain_secret_in_a_private_untracked_file_is_used(invwh, here):
    write(here, f'secret = "{FILE_SECRET}"\n', mode=0o600)
    value = invwh("sign", KNOWN, "--timestamp", NOW, "--format", "value").stdout.strip()
    assert (
        value
        == sign(INVENTORY_V1, Secret(FILE_SECRET), KNOWN.read_bytes(), timestamp=NOW)["X-Webhook-Signature"]
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_plain_secret_in_a_file_others_can_read_is_refused(invwh, here, mode):
    write(here, f'secret = "{FILE_SECRET}"\n', mode=mode)
    result = invwh("sign", KNOWN, code=2)
    assert f"invwh.toml: refusing the plain secret: the file is readable by other users (mode {mode:o})" in (
        result.stderr
    )
    assert "chmod 600 invwh.toml" in result.stderr and "secret_env" in result.stderr
    assert FILE_SECRET not in result.stderr + result.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_plain_secret_in_a_file_tracked_by_git_is_refused(invwh, here):
    write(here, f'secret = "{FILE_SECRET}"\n', mode=0o600)
    subprocess.run(["git", "init", "-q"], cwd=here, check=True, timeout=30)
    subprocess.run(["git", "add", "invwh.toml"], cwd=here, check=True, timeout=30)
    result = invwh("sign", KNOWN, code=2)
    assert "invwh.toml: refusing the plain secret: the file is tracked by git" in result.stderr
    assert FILE_SECRET not in result.stderr + result.stdout
    # Untracked in the same repository, it is fine.
    subprocess.run(["git", "rm", "-q", "--cached", "invwh.toml"], cwd=here, check=True, timeout=30)
    invwh("sign", KNOWN)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_plain_secret_under_tool_invwh_in_a_tracked_pyproject_is_refused(invwh, here):
    write(here, f'[tool.invwh]\nsecret = "{FILE_SECRET}"\n', name="pyproject.toml", mode=0o600)
    subprocess.run(["git", "init", "-q"], cwd=here, check=True, timeout=30)
    subprocess.run(["git", "add", "pyproject.toml"], cwd=here, check=True, timeout=30)
    result = invwh("sign", KNOWN, code=2)
    assert "pyproject.toml: refusing the plain tool.invwh.secret: the file is tracked by git" in result.stderr


def test_without_git_only_the_file_mode_is_checked(invwh, here, monkeypatch):
    write(here, f'secret = "{FILE_SECRET}"\n', mode=0o600)
    monkeypatch.setenv("PATH", str(here / "no-git-here"))
    invwh("sign", KNOWN)


# --- precedence: flag > environment > config file > built-in default ----------------------


def test_scheme_precedence(invwh, here):
    def scheme(*flags: str, env: dict[str, str] | None = None) -> str:
        # acme signs X-Acme-Account: sign refuses to sign without it.
        args = ["sign", KNOWN, "--format", "json", "-H", "X-Acme-Account: acct-1", *flags]
        return invwh(*args, env={"INVWH_SECRET": TEST_SECRET, **(env or {})}).json["scheme"]

    assert scheme() == "inventory-v1"
    write(here, 'scheme = "acme"\n' + ACME)
    assert scheme() == "acme"
    assert scheme(env={"INVWH_SCHEME": "github"}) == "github"
    assert scheme("--scheme", "stripe", env={"INVWH_SCHEME": "github"}) == "stripe"
    # An environment variable may name a scheme the config defines.
    write(here, 'scheme = "github"\n' + ACME)
    assert scheme(env={"INVWH_SCHEME": "acme"}) == "acme"


def test_url_precedence(invwh, here):
    def url(*flags: str, env: dict[str, str] | None = None) -> str:
        args = ["sign", KNOWN, "--format", "curl", *flags]
        command = invwh(*args, env={"INVWH_SECRET": TEST_SECRET, **(env or {})}).stdout
        return command.split("--url ", 1)[1].split()[0]

    assert url() == "http://127.0.0.1:8787/webhooks"
    write(here, 'url = "http://config.test/hooks"\n')
    assert url() == "http://config.test/hooks"
    assert url(env={"INVWH_URL": "http://env.test/hooks"}) == "http://env.test/hooks"
    assert url("--url", "http://flag.test/hooks", env={"INVWH_URL": "http://env.test/hooks"}) == (
        "http://flag.test/hooks"
    )


def test_tolerance_precedence(invwh, here):
    stale = sign(INVENTORY_V1, Secret(TEST_SECRET), KNOWN.read_bytes(), timestamp=NOW - 100)
    args = ["verify", "--body", KNOWN, "--now", NOW, "--format", "json"]
    args += [a for name, value in stale.items() for a in ("-H", f"{name}: {value}")]

    def reason(*flags: str, env: dict[str, str] | None = None, code: int = 0) -> str:
        result = invwh(*args, *flags, env={"INVWH_SECRET": TEST_SECRET, **(env or {})}, code=code)
        return result.json["reason"]

    assert reason() == "ok"  # 100 s old, within the built-in 300 s
    write(here, "tolerance = 60\n")
    assert reason(code=1) == "stale_timestamp"
    assert reason(env={"INVWH_TOLERANCE": "0"}) == "ok"
    assert reason("--tolerance", "99", env={"INVWH_TOLERANCE": "0"}, code=1) == "stale_timestamp"


def test_secret_precedence(invwh, here, monkeypatch):
    body = KNOWN.read_bytes()

    def signed_with(*flags: str, env: dict[str, str] | None = None) -> str:
        result = invwh("sign", KNOWN, "--timestamp", NOW, "--format", "value", *flags, env=env)
        value = result.stdout.strip()
        for secret in (FILE_SECRET, NAMED_ENV_SECRET, ENV_SECRET, FLAG_SECRET):
            if value == sign(INVENTORY_V1, Secret(secret), body, timestamp=NOW)["X-Webhook-Signature"]:
                return secret
        raise AssertionError("signed with none of the secrets")

    write(here, f'secret = "{FILE_SECRET}"\nsecret_env = "ACME_WEBHOOK_SECRET"\n', mode=0o600)
    assert signed_with() == FILE_SECRET  # the variable secret_env names is not set
    monkeypatch.setenv("ACME_WEBHOOK_SECRET", NAMED_ENV_SECRET)
    assert signed_with() == NAMED_ENV_SECRET
    assert signed_with(env={"INVWH_SECRET": ENV_SECRET}) == ENV_SECRET
    assert signed_with("--secret", FLAG_SECRET, env={"INVWH_SECRET": ENV_SECRET}) == FLAG_SECRET


def test_a_missing_secret_names_the_variable_the_config_expects(invwh, here):
    write(here, 'secret_env = "ACME_WEBHOOK_SECRET"\n')
    result = invwh("sign", KNOWN, code=2)
    assert "no secret given" in result.stderr
    assert "(invwh.toml names ACME_WEBHOOK_SECRET, which is not set)" in result.stderr


def test_the_config_default_shows_in_help(invwh, here):
    write(here, 'url = "http://config.test/hooks"\nscheme = "github"\n')
    text = invwh("send", "--help").stdout
    assert "default: github" in text.replace("\n", " ")
    assert "INVWH_URL" in text and "INVWH_SCHEME" in text


# --- a custom scheme, end to end -------------------------------------------------------------


@contextlib.contextmanager
def receiving(scheme: Scheme, **settings: object) -> Iterator[Receiver]:
    config = ReceiverConfig(scheme=scheme, secrets=[Secret(TEST_SECRET)], port=0, **settings)
    with Receiver(config) as receiver:
        yield receiver


def test_a_custom_scheme_from_invwh_toml_is_used_by_send_and_accepted_by_listen(invwh, here):
    write(here, ACME.replace('"{timestamp}:{method}:{header:X-Acme-Account}:{body}"', '"{timestamp}.{body}"'))
    acme = acme_scheme(here)
    with receiving(acme) as receiver:
        write(here, f'url = "{receiver.url}"\nscheme = "acme"\nsecret_env = "ACME_SECRET"\n' + ACME.replace(
            '"{timestamp}:{method}:{header:X-Acme-Account}:{body}"', '"{timestamp}.{body}"'))  # fmt: skip
        report = invwh("send", *VALID_SAMPLES, "--format", "json", env={"ACME_SECRET": TEST_SECRET}).json
    assert report["ok"] is True
    assert [d["status"] for d in report["items"]] == [200] * len(VALID_SAMPLES)


def test_a_custom_scheme_signing_another_header_round_trips(invwh, here):
    write(here, ACME)
    acme = acme_scheme(here)
    env = {"INVWH_SECRET": TEST_SECRET}
    signed = invwh("sign", KNOWN, "--scheme", "acme", "--timestamp", NOW, "--method", "PUT",
                   "-H", "X-Acme-Account: acct-7", "--format", "json", env=env).json  # fmt: skip
    headers = signed["headers"]
    # The account header is signed and sent with the signature; independently computed:
    assert set(headers) == {"Content-Type", "X-Acme-Account", "X-Acme-Time", "X-Acme-Signature"}
    raw = hmac.new(
        TEST_SECRET.encode(), f"{NOW}:PUT:acct-7:".encode() + KNOWN.read_bytes(), hashlib.sha384
    ).digest()
    assert headers["X-Acme-Signature"] == "sha384=" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert check_signature(acme, [Secret(TEST_SECRET)], KNOWN.read_bytes(), headers, method="PUT", now=NOW).ok
    header_args = [a for name, value in headers.items() for a in ("-H", f"{name}: {value}")]
    verified = invwh("verify", "--body", KNOWN, "--scheme", "acme", "--method", "PUT", "--now", NOW,
                     *header_args, env=env)  # fmt: skip
    assert verified.stdout.startswith("✓ valid")


def test_check_and_replay_take_the_url_and_scheme_from_the_config(invwh, here):
    write(here, ACME)
    acme = acme_scheme(here)
    record = here / "deliveries.jsonl"
    env = {"INVWH_SECRET": TEST_SECRET}
    with receiving(acme, record=str(record)) as receiver:
        write(here, f'url = "{receiver.url}"\nscheme = "acme"\ntolerance = 120\n' + ACME)
        report = invwh("check", "--strict", "--format", "json", env=env).json
    assert (report["ok"], report["url"]) == (True, receiver.url)
    assert "rejects a signature for another method" in [c["case"] for c in report["items"]]
    assert "tolerance 120 s" in next(
        c["sent"] for c in report["items"] if c["case"] == "rejects a stale timestamp"
    )
    with receiving(acme) as receiver:
        write(here, f'url = "{receiver.url}"\nscheme = "acme"\n' + ACME)
        replayed = invwh("replay", record, "--filter", "stock.increase", "--format", "json", env=env).json
    assert replayed["ok"] is True
    # The recording of the check holds its forgeries too: the audit finds each, under the config's scheme.
    audit = invwh("audit", record, "--format", "json", env=env, code=1).json["summary"]
    accepted = sum(status == 200 for case in report["items"] for status in case["statuses"])
    assert (audit["deliveries"], audit["valid"]) == (
        sum(len(c["statuses"]) for c in report["items"]),
        accepted,
    )


def test_schemes_lists_and_shows_a_custom_scheme(invwh, here):
    write(here, ACME)
    data = invwh("schemes", "--format", "json").json
    acme = data["schemes"][-1]
    assert (acme["name"], acme["source"], acme["summary"]) == (
        "acme",
        "invwh.toml",
        "Acme's partner webhooks",
    )
    assert acme["sends"] == {
        "X-Acme-Time": "<unix seconds>",
        "X-Acme-Signature": "sha384=<base64url HMAC-SHA384>",
    }
    text = invwh("schemes").stdout
    assert "acme" in text and "invwh.toml" in text
    block = invwh("schemes", "show", "acme").stdout
    assert block.startswith("# acme (invwh.toml)")
    write(here, block)
    assert acme_scheme(here) == load_config(directory=here).schemes["acme"]
    assert (
        "known schemes: inventory-v1, hmac-sha256-hex, standard-webhooks, stripe, github, slack, shopify, "
        "square, acme"
        in invwh("sign", KNOWN, "--scheme", "acmee", env={"INVWH_SECRET": TEST_SECRET}, code=2).stderr
    )


def _line_with(lines: queue.Queue[str], text: str, limit: int = 50) -> str:
    for _ in range(limit):
        line = lines.get(timeout=15)
        if text in line:
            return line
    raise AssertionError("the expected line never came")


def test_the_listen_command_with_a_custom_scheme_from_the_config(invwh, here):
    write(here, 'scheme = "acme"\nsecret_env = "ACME_SECRET"\n' + ACME)
    with listen_subprocess("--format", "json", env={"ACME_SECRET": TEST_SECRET}, cwd=here) as listen:
        url = json.loads(_line_with(listen.lines, "listening"))["listening"]
        body = KNOWN.read_bytes()
        headers = sign(acme_scheme(here), Secret(TEST_SECRET), body, headers={"X-Acme-Account": "a-1"})
        sent = {**headers, "X-Acme-Account": "a-1", "Connection": "close"}
        response = requests.post(url, data=body, headers=sent, timeout=10)
        assert response.status_code == 200, response.text
        assert json.loads(listen.lines.get(timeout=10))["reason"] == "ok"
        status, stderr = listen.stop(timeout=30)
    assert status == 0
    assert "acme, 1 secret" in stderr
    assert TEST_SECRET not in stderr


def test_a_wrong_value_stops_only_the_commands_that_read_it(invwh, here):
    """A bad url stops send, not `invwh schemes` or validate; a bad tolerance stops verify, not
    sign (given its own --url); a flag that overrides the setting keeps it from mattering."""
    write(here, "url = 'http://[::1/x'\ntolerance = 'soon'\n")
    for args in (
        ["sign", KNOWN, "--secret", TEST_SECRET, "--url", "http://h/"],
        ["schemes"],
        ["validate", KNOWN],
    ):
        invwh(*args)
    for args, setting in (
        (["send", KNOWN, "--secret", TEST_SECRET], "url 'http://[::1/x' is not a usable URL"),
        (["trigger", "stock.increase", "--secret", TEST_SECRET], "url 'http://[::1/x' is not"),
        (["check", "--secret", TEST_SECRET], "url 'http://[::1/x' is not a usable URL"),
        (["replay", "-", "--secret", TEST_SECRET], "url 'http://[::1/x' is not a usable URL"),
        (["verify", "--body", KNOWN], "tolerance must be a whole number"),
    ):
        result = invwh(*args, code=2)
        assert result.stderr == f"invwh: error: invwh.toml: {setting}" + result.stderr.split(setting)[1]
        assert result.stderr.count("\n") == 1
    # The flag wins, so the file's url is never read.
    result = invwh("send", KNOWN, "--secret", TEST_SECRET, "--url", "http://127.0.0.1:9/", "--timeout", "2",
                   code=3)  # fmt: skip
    assert "connection refused" in result.stderr
    assert "invwh.toml" not in result.stderr


def test_load_config_keeps_a_wrong_value_until_it_is_read(here):
    write(here, "url = 'ftp://x'\nscheme = 'github'\n")
    config = load_config()
    assert config is not None and config.scheme == "github"
    with pytest.raises(ConfigError, match=r"invwh\.toml: url 'ftp://x' is not a usable URL"):
        _ = config.url


def test_a_byte_order_mark_is_accepted(invwh, here):
    """Notepad writes UTF-8 with a BOM; TOML forbids it but it means nothing: dropped."""
    (here / "invwh.toml").write_bytes(b"\xef\xbb\xbfscheme = 'github'\n")
    assert invwh("schemes", "--format", "json").json["default"] == "github"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invwh.toml: not valid TOML: nested too deeply"),
        (
            b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000 + b"\n",
            "invwh.toml: not valid TOML: nested too deeply",
        ),
    ],
)
def test_deep_nesting_is_one_line(invwh, here, content, message):
    (here / "invwh.toml").write_bytes(content)
    assert invwh("schemes", code=2).stderr == f"invwh: error: {message}\n"


@pytest.mark.parametrize("tool", ["[tool]\ninvwh = 1\n", "[tool]\ninvwh = 'x'\n"])
def test_tool_invwh_that_is_not_a_table(invwh, here, tool):
    write(here, tool, name="pyproject.toml")
    result = invwh("schemes", code=2)
    assert (
        result.stderr
        == "invwh: error: pyproject.toml: tool.invwh must be a table of settings: [tool.invwh]\n"
    )


def test_a_config_path_that_never_ends_is_read_with_a_cap(invwh, here):
    result = invwh("--config", "/dev/zero", "schemes", code=2)
    assert result.stderr == "invwh: error: config file /dev/zero: larger than 1 MiB; is it the config file?\n"


def test_the_readme_example_config_works(invwh, here):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A config file", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    write(here, example)
    config = load_config()
    assert (config.url, config.scheme, config.tolerance, config.secret_env) == (
        "http://localhost:3000/webhooks", "acme", 120, "ACME_WEBHOOK_SECRET"
    )  # fmt: skip
    assert config.schemes["acme"].signs_method
    assert "acme (default)" in invwh("schemes").stdout


def test_every_command_with_a_url_reads_it_from_the_environment(invwh, here):
    """send, check, replay and trigger: INVWH_URL stands in for --url (here, an unreachable one)."""
    env = {"INVWH_SECRET": TEST_SECRET, "INVWH_URL": "http://127.0.0.1:9/webhooks"}
    record = write(here, '{"body": "{}"}\n', name="one.jsonl")  # one delivery: an empty one is exit 2
    for args in (["send", KNOWN], ["check"], ["replay", record], ["trigger", "stock.increase"]):
        result = invwh(*args, "--timeout", "2", "--format", "json", env=env, code=(0, 1, 3))
        assert "127.0.0.1:9" in result.stdout + result.stderr, args


def test_a_broken_scheme_stops_the_commands_that_resolve_a_scheme_only(invwh, here):
    write(here, "[schemes.acme]\nhash = 'sha256'\n")
    invwh("validate", KNOWN)
    for args in (["sign", KNOWN, "--secret", TEST_SECRET], ["schemes"]):
        result = invwh(*args, code=2)
        assert result.stderr == "invwh: error: invwh.toml: schemes.acme needs signature_header\n"
