"""The reference for the audit benchmark: the least a recording audit must do.

Per line: parse the JSON, base64-decode the body where needed, compute the
HMAC-SHA512 of ``POST|timestamp|body``, compare it in constant time, parse
the body and check it carries one known discriminator. No reporting, no
explanations, no error handling: a floor, not a tool.

    python bench/reference_audit.py RECORDING SECRET
"""

import base64
import hashlib
import hmac
import json
import sys

DISCRIMINATORS = {
    "inventoryStockIncreaseEventType": "stock.increase",
    "inventoryStockDecreaseEventType": "stock.decrease",
    "inventoryStockDepletedEventType": "stock.depleted",
}


def main(path: str, secret: str) -> None:
    key = secret.encode()
    valid = total = 0
    with open(path, "rb") as recording:
        for line in recording:
            record = json.loads(line)
            body = record["body"]
            body = base64.b64decode(body) if record.get("body_encoding") == "base64" else body.encode()
            headers = record["headers"]
            message = b"POST|" + headers["X-Timestamp"].encode() + b"|" + body
            expected = "v1=" + base64.b64encode(hmac.new(key, message, hashlib.sha512).digest()).decode()
            signature_ok = hmac.compare_digest(expected, headers["X-Webhook-Signature"])
            event = json.loads(body)
            typed = sum(1 for k, v in DISCRIMINATORS.items() if event.get(k) == v) == 1
            valid += signature_ok and typed
            total += 1
    print(f"{valid} of {total} valid")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
