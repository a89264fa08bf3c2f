"""The strongest reference for the receiver benchmark: a raw ASGI app that reads the body and answers 200.

uvicorn asgi_noop:app --app-dir bench --http httptools --loop uvloop --port PORT

No framework, no routing, no verdict: what uvicorn itself costs per request on
llhttp and uvloop, the fastest a Python server is commonly run.
"""


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
