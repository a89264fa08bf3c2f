"""The receiver benchmark's same-work peer: what a skilled user would write to do listen's job.

    PEER_SECRET=... PEER_RECORD=peer.jsonl uvicorn asgi_samework:app --app-dir bench \
        --http httptools --loop uvloop --port PORT

A raw ASGI app on the fastest common Python stack (uvicorn, httptools, uvloop,
one worker) doing what ``invwh listen --record`` does for each delivery: check
the inventory-v1 signature (HMAC-SHA512 of ``POST|timestamp|body``, base64,
``compare_digest``) and the timestamp's age (``PEER_TOLERANCE`` seconds, 300
by default), validate the body against the three event schemas with one
compiled validator (fastjsonschema), write one JSON line per request to the
recording with one ``os.write`` before answering, and answer 200, 401 or 422.
No routing, no logging, no limits on the body: a floor for the same work.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import fastjsonschema

SECRET = os.environ["PEER_SECRET"].encode()
TOLERANCE = int(os.environ.get("PEER_TOLERANCE", "300"))
RECORD = os.open(os.environ["PEER_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

SCHEMAS = Path(__file__).resolve().parent.parent / "inventory_cli" / "events" / "schemas"
DISCRIMINATORS = {
    "InventoryStockIncreaseEvent": ("inventoryStockIncreaseEventType", "stock.increase"),
    "InventoryStockDecreaseEvent": ("inventoryStockDecreaseEventType", "stock.decrease"),
    "InventoryStockDepletedEvent": ("inventoryStockDepletedEventType", "stock.depleted"),
}


def _event_schema(name: str) -> dict:  # type: ignore[type-arg]
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    del schema["$schema"], schema["$id"]  # inlined below; fastjsonschema speaks draft-07
    return schema


# InventoryChangeEvent.json is oneOf the three, by $ref: inlined, so one compiled function checks all.
validate = fastjsonschema.compile({"oneOf": [_event_schema(name) for name in DISCRIMINATORS]})
KINDS = tuple(DISCRIMINATORS.values())


def _answer(status: int, valid: bool, reason: str, event_type: str | None) -> tuple[dict, dict]:  # type: ignore[type-arg]
    body = json.dumps({"valid": valid, "reason": reason, "event_type": event_type}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


BAD_SIGNATURE = _answer(401, False, "signature_mismatch", None)
STALE = _answer(401, False, "stale_timestamp", None)
INVALID = _answer(422, False, "invalid_payload", None)
VALID = {value: _answer(200, True, "ok", value) for _, value in KINDS}


def judge(headers: dict[bytes, bytes], body: bytes) -> tuple[tuple[dict, dict], str, str | None]:  # type: ignore[type-arg]
    stamp = headers.get(b"x-timestamp", b"")
    signature = headers.get(b"x-webhook-signature", b"")
    expected = b"v1=" + base64.b64encode(hmac.digest(SECRET, b"POST|" + stamp + b"|" + body, hashlib.sha512))
    if not hmac.compare_digest(expected, signature):
        return BAD_SIGNATURE, "signature_mismatch", None
    if TOLERANCE and abs(time.time() - int(stamp)) > TOLERANCE:
        return STALE, "stale_timestamp", None
    try:
        event = json.loads(body)
        validate(event)
    except (ValueError, fastjsonschema.JsonSchemaException):
        return INVALID, "invalid_payload", None
    for key, value in KINDS:
        if event.get(key) == value:
            return VALID[value], "ok", value
    return INVALID, "invalid_payload", None  # unreachable: oneOf passed


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    chunks = []
    more_body = True
    while more_body:
        message = await receive()
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    body = b"".join(chunks)
    headers = dict(scope["headers"])
    answer, reason, event_type = judge(headers, body)
    try:
        text, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(body).decode("ascii"), "base64"
    status = answer[0]["status"]
    line = json.dumps(
        {
            "received_at_unix": time.time(),
            "method": scope["method"],
            "path": scope["path"],
            "headers": {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
            "body": text,
            "body_encoding": encoding,
            "verdict": {"valid": status == 200, "reason": reason, "event_type": event_type},
            "status": status,
        }
    )
    os.write(RECORD, (line + "\n").encode())  # one write: a line is whole or absent
    await send(answer[0])
    await send(answer[1])
