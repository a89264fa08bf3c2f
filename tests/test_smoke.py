from conftest import VALID_SAMPLES


def test_version(invwh):
    assert invwh("--version").stdout.startswith("invwh, version ")


def test_validate_samples(invwh):
    result = invwh("validate", *VALID_SAMPLES)
    assert "7 valid, 0 invalid" in result.stdout
