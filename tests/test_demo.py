"""`invwh demo`: the main job on built-in data, end to end over real HTTP."""

from inventory_cli.events.factory import event_body, make_event
from inventory_cli.events.validation import check_event


def test_demo_exits_0_with_every_answer_right(invwh):
    result = invwh("demo", "--format", "json")
    report = result.json
    assert report["ok"] is True
    statuses = [(d["event_type"], d["status"]) for d in report["items"]]
    assert statuses == [
        ("stock.increase", 200),
        ("stock.decrease", 200),
        ("stock.depleted", 200),
        ("stock.increase", 401),  # forged
        (None, 422),  # not an event
    ]


def test_demo_text_says_it_uses_a_demo_secret(invwh):
    result = invwh("demo")
    assert "demo secret" in result.stdout
    assert "5 deliveries: 5 as expected" in result.stdout


def test_templates_make_valid_distinct_events():
    for name in ("stock.increase", "stock.decrease", "stock.depleted"):
        first, second = make_event(name), make_event(name)
        assert check_event(event_body(first)).event_type == name
        assert first["eventId"] != second["eventId"]
