"""The main job end to end on built-in data: what ``invwh demo`` runs.

A verifying receiver on a free local port, then fresh events of each type
signed correctly, one forged and one that is not an event, each with the
answer a correct receiver must give.
"""

from __future__ import annotations

from ..events.factory import event_body, make_event
from ..events.validation import event_type_names
from ..signing.schemes import INVENTORY_V1
from ..signing.signatures import Secret, sign
from .delivery import Deliverer, DeliveryOptions, DeliveryResult
from .receive import Receiver, ReceiverConfig

#: Public on purpose: it only ever signs the demo's own local traffic.
DEMO_SECRET = "invwh-demo-secret-not-for-real-use"


def run_demo(timeout: float = 10.0) -> list[DeliveryResult]:
    secret = Secret(DEMO_SECRET)
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[secret], port=0)
    with Receiver(config).start() as receiver:
        options = DeliveryOptions(url=receiver.url, scheme=INVENTORY_V1, secret=secret, timeout=timeout)
        with Deliverer(options) as deliverer:
            results = [
                deliverer.deliver(event_body(make_event(name)), payload=f"new {name} event", event_type=name)
                for name in event_type_names()
            ]
            results.append(
                deliverer.deliver(
                    event_body(make_event("stock.increase")),
                    payload="forged: signed with another secret",
                    event_type="stock.increase",
                    signer=lambda body: sign(INVENTORY_V1, Secret("an-attackers-guess"), body),
                    expected=(401,),
                )
            )
            results.append(
                deliverer.deliver(
                    b'{"inventoryStockIncreaseEventType": "stock.increse", "sku": "WIDGET-BLU-M"}',
                    payload="signed, but not an event (a typo)",
                    event_type=None,
                    expected=(422,),
                )
            )
    return results
