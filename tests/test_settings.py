"""One resolver for the settings: the CLI, the pytest plugin and the Locust user agree.

Each way in is given the same environment and the same ``invwh.toml`` and asked
what it would sign with (the signature of one body at one timestamp: it shows
the secret and the scheme without showing the secret), where it would send
(the URL) and how old a timestamp it takes (the tolerance); all match
``config.settings``, which walks explicit value, environment, config file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, TEST_SECRET
from test_pytest_plugin import run as run_pytester

from inventory_cli.config import settings
from inventory_cli.errors import ConfigError, InputError, MissingSecretError
from inventory_cli.signing.signatures import Secret

pytest_plugins = ["pytester"]

BODY = SAMPLES / "stock-increase.json"
TIMESTAMP = 1_700_000_000
CONFIG = """\
url = "http://toml.test/hooks"
scheme = "acme"
secret_env = "ACME_WEBHOOK_SECRET"
tolerance = 5

[schemes.acme]
signature_header = "X-Acme-Signature"
encoding = "base64"
message_template = "{timestamp}.{body}"
timestamp_header = "X-Acme-Timestamp"
"""

#: The config file alone; then the environment over it.
FROM_THE_FILE = {"ACME_WEBHOOK_SECRET": "another-secret"}
FROM_THE_ENVIRONMENT = {
    **FROM_THE_FILE,
    settings.SECRET_ENV: TEST_SECRET,
    settings.SCHEME_ENV: "stripe",
    settings.URL_ENV: "http://env.test/hooks",
    settings.TOLERANCE_ENV: "100",
}
EXPECTED = {
    "file": ("acme", "another-secret", "http://toml.test/hooks", 5),
    "environment": ("stripe", TEST_SECRET, "http://env.test/hooks", 100),
}


@pytest.fixture(params=["file", "environment"])
def case(request, tmp_path, monkeypatch):
    (tmp_path / "invwh.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    environment = FROM_THE_FILE if request.param == "file" else FROM_THE_ENVIRONMENT
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return request.param, environment


def signature_headers(headers):
    return {name: value for name, value in headers.items() if name.lower() != "content-type"}


def resolver_view():
    config = settings.load_settings_file()
    scheme = settings.scheme(config=config)
    secret = settings.secrets(config=config, ways="-")[0]
    from inventory_cli.signing.signatures import sign

    signed = sign(scheme, secret, BODY.read_bytes(), timestamp=TIMESTAMP)
    return scheme.name, secret, settings.url(config=config), settings.tolerance(config=config), signed


def test_the_resolver_walks_environment_then_config_file(case):
    name, _ = case
    scheme, secret, url, tolerance, _ = resolver_view()
    expected_scheme, expected_secret, expected_url, expected_tolerance = EXPECTED[name]
    assert (scheme, url, tolerance) == (expected_scheme, expected_url, expected_tolerance)
    assert secret == Secret(expected_secret)


def test_the_cli_resolves_as_the_resolver(case, invwh):
    _, environment = case
    scheme, _, url, tolerance, signed = resolver_view()
    document = invwh("sign", BODY, "--timestamp", TIMESTAMP, "--format", "json", env=environment).json
    assert document["scheme"] == scheme
    assert signature_headers(document["headers"]) == signed
    curl = invwh("sign", BODY, "--format", "curl", env=environment).stdout
    assert f"--url {url} " in curl
    assert json.loads(invwh("schemes", "--format", "json", env=environment).stdout)["default"] == scheme
    # The tolerance: a delivery a little older than the smaller one is stale only under it.
    old = int(time.time()) - 50
    headers = invwh("sign", BODY, "--timestamp", old, env=environment).stdout.splitlines()
    args = ["verify", "--body", BODY, *[a for line in headers for a in ("-H", line)]]
    expected_code = 0 if tolerance >= 50 else 1
    invwh(*args, code=expected_code, env=environment)


def test_the_pytest_plugin_resolves_as_the_resolver(case, pytester):
    """The plugin reads invwh.toml (its secret_env, scheme and schemes) and INVWH_SCHEME as the CLI does."""
    (pytester.path / "invwh.toml").write_text(CONFIG)  # pytester runs in a directory of its own
    scheme, _, _, _, signed = resolver_view()
    out = pytester.path / "signed.json"
    pytester.makepyfile(
        f"""
import json, pathlib

def test_sign(webhook_signer, webhook_receiver):
    assert webhook_signer.scheme == webhook_receiver.scheme
    body = pathlib.Path({str(BODY)!r}).read_bytes()
    headers = webhook_signer.sign(body, timestamp={TIMESTAMP})
    pathlib.Path({str(out)!r}).write_text(json.dumps([webhook_signer.scheme, headers]))
"""
    )
    run_pytester(pytester).assert_outcomes(passed=1)
    plugin_scheme, headers = json.loads(out.read_text())
    assert plugin_scheme == scheme
    assert signature_headers(headers) == signed


LOCUST_PROBE = """
import json, sys
from inventory_cli import load
from inventory_cli.signing.signatures import sign

class User(load.WebhookUser):
    pass

class Environment:
    user_classes = [User]
    host = None

load._check_settings(Environment())
prepared = load.prepare(User)
body = open(sys.argv[1], "rb").read()
signed = sign(prepared.scheme, prepared.secret, body, timestamp=int(sys.argv[2]))
print(json.dumps([prepared.scheme.name, User.host, signed]))
"""


def test_the_locust_user_resolves_as_the_resolver(case):
    scheme, _, url, _, signed = resolver_view()
    done = subprocess.run(
        [sys.executable, "-c", LOCUST_PROBE, str(BODY), str(TIMESTAMP)],
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [scheme, url, signed]


def test_the_plugin_ranks_its_ini_option_between_the_environment_and_invwh_toml(pytester, monkeypatch):
    (pytester.path / "invwh.toml").write_text(CONFIG)
    monkeypatch.setenv("ACME_WEBHOOK_SECRET", "another-secret")
    pytester.makepyfile(
        """
import os

def test_scheme(webhook_signer, webhook_receiver):
    assert webhook_signer.scheme == webhook_receiver.scheme == os.environ["EXPECTED_SCHEME"]
"""
    )
    monkeypatch.setenv("EXPECTED_SCHEME", "acme")
    run_pytester(pytester).assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECTED_SCHEME", "github")
    run_pytester(pytester, "-o", "invwh_scheme=github").assert_outcomes(passed=1)
    monkeypatch.setenv(settings.SCHEME_ENV, "stripe")
    monkeypatch.setenv("EXPECTED_SCHEME", "stripe")
    run_pytester(pytester, "-o", "invwh_scheme=github").assert_outcomes(passed=1)


def test_a_wrong_config_value_is_said_only_when_it_is_read(tmp_path):
    (tmp_path / "invwh.toml").write_text('url = "ftp://nowhere"\nscheme = "inventory-v1"\n')
    config = settings.load_settings_file(directory=tmp_path)
    assert settings.scheme_name(config=config, environ={}) == "inventory-v1"
    assert settings.url(config=config, environ={settings.URL_ENV: "http://env.test/x"}) == "http://env.test/x"
    with pytest.raises(ConfigError, match="url"):
        settings.url(config=config, environ={})


def test_the_resolver_names_what_is_wrong_in_the_environment():
    with pytest.raises(InputError, match=settings.TOLERANCE_ENV):
        settings.tolerance(config=None, environ={settings.TOLERANCE_ENV: "soon"})
    with pytest.raises(InputError, match=settings.URL_ENV):
        settings.url(config=None, environ={settings.URL_ENV: "http://h:99999/"})
    with pytest.raises(MissingSecretError, match="no secret given: give one"):
        settings.secrets(config=None, environ={}, ways="give one")


def test_every_invwh_variable_is_named_once_in_the_package():
    package = Path(settings.__file__).parent.parent
    named = {}
    for path in sorted(package.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            for quote in ('"INVWH_', "'INVWH_"):
                if quote in stripped and not stripped.startswith(("#", "``")):
                    named.setdefault(path.relative_to(package).as_posix(), []).append(number)
    assert set(named) == {"config/settings.py", "github_action.py"}, named
    assert len(named["github_action.py"]) == 1  # its inputs' prefix, INPUT_PREFIX


def test_the_cli_options_read_the_resolvers_variables():
    """Click applies the resolver's order for --scheme, --url and --tolerance: each option's
    variable is the resolver's, and the config file's values are their defaults."""
    import click

    from inventory_cli.cli.app import COMMANDS, cli
    from inventory_cli.cli.options import CONFIG_PARAMETERS

    seen = set()
    with click.Context(cli) as ctx:
        for name in COMMANDS:
            command = cli.get_command(ctx, name)
            for param in command.params if command is not None else ():
                for setting, parameter in CONFIG_PARAMETERS.items():
                    if param.name == parameter:
                        assert param.envvar == settings.ENVIRONMENT[setting], (name, param.name)
                        seen.add(setting)
    assert seen == set(settings.ENVIRONMENT)
