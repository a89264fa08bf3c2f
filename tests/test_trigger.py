"""`invwh trigger`: fresh events from templates, overrides, printed or sent to a real local server."""

from __future__ import annotations

import calendar
import json
import socket
import time

import pytest
from conftest import TEST_SECRET
from servers import Reply, serve

from inventory_cli.events.factory import event_body
from inventory_cli.events.validation import check_event, event_type_names, get_event_type
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature

SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}


@pytest.fixture
def trigger(invwh):
    def run(*args, code=0):
        return invwh("trigger", *args, code=code, env=SECRET_ENV)

    return run


def printed(trigger, event_type, *args, code=0):
    return json.loads(trigger(event_type, "--print", *args, code=code).stdout)


@pytest.mark.parametrize("event_type", event_type_names())
def test_print_gives_a_fresh_valid_event_of_each_type(trigger, event_type):
    first = trigger(event_type, "--print").stdout
    second = trigger(event_type, "--print").stdout
    assert first.endswith("}\n")
    event = json.loads(first)
    check = check_event(first.encode())
    assert check.ok and check.event_type == event_type
    assert event[get_event_type(event_type).discriminator] == event_type
    assert event["eventId"].startswith("evt_") and len(event["eventId"]) == 30
    assert event["eventId"] != json.loads(second)["eventId"]
    occurred = calendar.timegm(time.strptime(event["occurredAt"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(occurred - time.time()) < 120
    assert {"sku", "productName", "location", "previousQuantity", "newQuantity"} <= set(event)


def test_template_quantities_are_plausible(trigger):
    increase = printed(trigger, "stock.increase")
    decrease = printed(trigger, "stock.decrease")
    depleted = printed(trigger, "stock.depleted")
    assert increase["previousQuantity"] + increase["quantityChange"] == increase["newQuantity"]
    assert increase["quantityChange"] > 0
    assert decrease["previousQuantity"] + decrease["quantityChange"] == decrease["newQuantity"] >= 0
    assert decrease["quantityChange"] < 0
    assert depleted["newQuantity"] == 0 < depleted["previousQuantity"]


def test_set_overrides_nested_keys_with_json_values_and_plain_strings(trigger):
    event = printed(
        trigger,
        "stock.decrease",
        "--set",
        "sku=GASKET-RUB-12",
        "--set",
        "quantityChange=-5",
        "--set",
        "location.warehouseId=WH-RTM-02",
        "--set",
        "location.shelf.level=3",  # creates the object in between
        "--set",
        "newQuantity=null",
        "--set",
        "unitPrice=12.5",
        "--set",
        "backordered=true",
        "--set",
        'tags=["urgent", 2]',
        "--set",
        'supplier={"id": "SUP-9", "contact": null}',
        "--set",
        "note=two words, no JSON",
        "--set",
        "formula=a=b",  # only the first "=" splits
        "--set",
        "code=007",  # not JSON: stays text
        "--set",
        'quoted="42"',  # a JSON string
        "--set",
        "ratio=NaN",  # JSON has no NaN: stays text
        "--set",
        "huge=1e999",  # would be Infinity: stays text
        "--set",
        "empty=",
    )
    assert event["sku"] == "GASKET-RUB-12"
    assert event["quantityChange"] == -5
    assert event["location"]["warehouseId"] == "WH-RTM-02"
    assert event["location"]["bin"]  # the template's other nested fields stay
    assert event["location"]["shelf"] == {"level": 3}
    assert event["newQuantity"] is None
    assert event["unitPrice"] == 12.5
    assert event["backordered"] is True
    assert event["tags"] == ["urgent", 2]
    assert event["supplier"] == {"id": "SUP-9", "contact": None}
    assert event["note"] == "two words, no JSON"
    assert event["formula"] == "a=b"
    assert event["code"] == "007"
    assert event["quoted"] == "42"
    assert (event["ratio"], event["huge"], event["empty"]) == ("NaN", "1e999", "")


def test_later_overrides_win(trigger):
    event = printed(trigger, "stock.increase", "--set", "sku=A", "--set", "location={}", "--set", "sku=B")
    assert event["sku"] == "B"
    assert event["location"] == {}


@pytest.mark.parametrize(
    "assignment",
    [
        "inventoryStockIncreaseEventType=stock.restocked",
        "inventoryStockDepletedEventType=stock.depleted",  # two discriminators
    ],
)
def test_an_override_that_makes_it_invalid_is_refused_unless_no_validate(trigger, assignment):
    with serve() as server:
        result = trigger("stock.increase", "--set", assignment, "--url", server.endpoint(), "--print", code=1)
        trigger("stock.increase", "--set", assignment, "--url", server.endpoint(), code=1)
    assert server.received == []
    assert result.stdout == ""
    assert "invalid event" in result.stderr and "--no-validate" in result.stderr
    forced = printed(trigger, "stock.increase", "--set", assignment, "--no-validate")
    key, _, value = assignment.partition("=")
    assert forced[key] == value


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("no-equals-sign", "--set takes key=value"),
        ("=5", "--set takes key=value"),
        ("location..bin=A", "--set takes key=value"),
        (".sku=A", "--set takes key=value"),
        ("location.=A", "--set takes key=value"),
        ("sku.part=A", "sku is not an object"),
        ("location.bin.row=4", "location.bin is not an object"),
        ("newQuantity.x=1", "newQuantity is not an object"),
    ],
)
def test_bad_set_is_a_usage_error(trigger, assignment, complaint):
    result = trigger("stock.increase", "--set", assignment, "--print", code=2)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("invwh: error: ") and complaint in line


def test_setting_through_a_value_set_before_is_refused(trigger):
    trigger("stock.increase", "--set", "tags=[1]", "--set", "tags.first=2", "--print", code=2)


@pytest.mark.parametrize("event_type", event_type_names())
def test_sends_the_event_signed_and_serialized_as_print_does(trigger, event_type):
    with serve() as server:
        result = trigger(
            event_type,
            "--set",
            "location.warehouseId=WH-BER-03",
            "--set",
            "productName=Café ☕ 東京",
            "--url",
            server.endpoint(),
            "--format",
            "json",
        )
    (request,) = server.received
    event = json.loads(request.body)
    assert request.body == event_body(event)  # the bytes --print writes, without its newline
    assert request.body == json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")
    assert event["location"]["warehouseId"] == "WH-BER-03"
    assert event["productName"] == "Café ☕ 東京"
    assert check_event(request.body).event_type == event_type
    check = check_signature(INVENTORY_V1, [Secret(TEST_SECRET)], request.body, request.headers)
    assert check.ok, check.message
    assert abs(check.timestamp - time.time()) < 60
    (delivery,) = result.json["items"]
    assert (delivery["status"], delivery["event_type"], delivery["ok"]) == (200, event_type, True)


def test_print_and_send_serialize_alike(trigger, tmp_path):
    printed_text = trigger("stock.depleted", "--set", "productName=Café ☕", "--print").stdout
    with serve() as server:
        trigger("stock.depleted", "--set", "productName=Café ☕", "--url", server.endpoint())
    (request,) = server.received
    sent, shown = json.loads(request.body), json.loads(printed_text)
    assert set(sent) == set(shown)
    assert printed_text.encode("utf-8") == event_body(shown) + b"\n"


def test_the_answer_decides_the_exit_status(trigger):
    with serve(lambda request: Reply(422, b'{"error": "unknown sku"}')) as server:
        result = trigger("stock.increase", "--url", server.endpoint(), code=1)
        trigger("stock.increase", "--url", server.endpoint(), "--expect", "422")
    assert "processing failed" in result.stdout and "unknown sku" in result.stdout


def test_an_unreachable_receiver_exits_3(trigger):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks"
    result = trigger("stock.increase", "--url", url, "--timeout", "2", code=3)
    assert url in result.stderr and "connection refused" in result.stderr


def test_without_url_or_print_is_a_usage_error(trigger):
    result = trigger("stock.increase", code=2)
    assert "give --url to send the event, or --print" in result.stderr
    assert result.stdout == ""


def test_an_unknown_type_is_a_usage_error(trigger):
    trigger("stock.restocked", "--print", code=2)


def test_print_needs_no_secret(invwh):
    event = json.loads(invwh("trigger", "stock.increase", "--print").stdout)
    assert TEST_SECRET not in json.dumps(event)


def test_set_on_a_field_the_template_lacks_warns_with_the_nearest_and_still_sets_it(trigger):
    """A typo (`skuu`) silently added a field; now stderr says so and names the nearest field."""
    result = trigger(
        "stock.increase", "--print", "--no-validate",
        "--set", "skuu=X", "--set", "location.bn=A-1", "--set", "zzqqxx=1", "--set", "sku=KNOWN",
    )  # fmt: skip
    assert result.stderr.splitlines() == [
        "invwh: warning: --set skuu: a stock.increase event has no such field; added (did you mean sku?)",
        "invwh: warning: --set location.bn: a stock.increase event has no such field; added "
        "(did you mean location.bin?)",
        "invwh: warning: --set zzqqxx: a stock.increase event has no such field; added",
    ]
    event = json.loads(result.stdout)
    assert (event["skuu"], event["location"]["bn"], event["zzqqxx"], event["sku"]) == ("X", "A-1", 1, "KNOWN")


def test_set_on_the_template_fields_says_nothing(trigger):
    result = trigger(
        "stock.depleted", "--print", "--set", "sku=A", "--set", "location.bin=B", "--set", "reorderPoint=9"
    )
    assert result.stderr == ""
