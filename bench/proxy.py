"""The cost of ``invwh listen --forward-to``: an app's rate behind the proxy against its rate direct.

Usage: ``.venv/bin/python bench/proxy.py [--requests N]`` (hey and nginx from Debian: ``apt-get
install hey nginx-light``). Three apps: a slow one, which takes 1 ms per request one request at a
time (a single worker that writes to a database: about 1,000 requests a second at most); the
same 1 ms per request, many at once (an asyncio app: its rate is bounded by the CPU, not by the
1 ms); a fast one (nginx answering "ok"). Each is loaded with ``hey -c 32`` directly, then
through ``invwh listen --forward-to``; the goal is a rate of at least 0.8 times the direct one
for the slow app. Prints one line per app and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from inventory_cli.signing.schemes import get_scheme
from inventory_cli.signing.signatures import Secret, sign

SECRET = "bench-secret-not-a-real-one"
BODY = b'{"inventoryStockIncreaseEventType": "stock.increase", "sku": "WIDGET-BLU-M", "quantity": 3}'
CONCURRENCY = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def slow_app(port: int, delay: float, *, serial: bool) -> None:
    """HTTP/1.1 keep-alive, ``delay`` seconds a request: one at a time when ``serial``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if serial:
                    async with lock:
                        await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    lock: asyncio.Lock

    async def main() -> None:
        nonlocal lock
        lock = asyncio.Lock()
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Nginx:
    def __init__(self, work: Path) -> None:
        self.dir = work / "nginx"
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"""worker_processes 1;
error_log {self.dir}/logs/error.log;
pid {self.dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/body;
  server {{
    listen 127.0.0.1:{self.port};
    keepalive_requests 1000000;
    location / {{ return 200 "ok"; }}
  }}
}}
"""
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-c", str(conf), "-p", str(self.dir)], check=True)
        wait_for_port(self.port)

    def stop(self) -> None:
        os.kill(int((self.dir / "nginx.pid").read_text()), signal.SIGQUIT)


def hey(url: str, count: int, body: Path, headers: dict[str, str]) -> tuple[float, dict[str, str]]:
    args = ["hey", "-n", str(count), "-c", str(CONCURRENCY), "-m", "POST", "-T", "application/json"]
    args += ["-D", str(body)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True, timeout=600).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))


def through_proxy(
    app_port: int, count: int, body: Path, headers: dict[str, str]
) -> tuple[float, dict[str, str]]:
    port = free_port()
    invwh = str(Path(sys.executable).parent / "invwh")
    command = [invwh, "listen", "--port", str(port), "--forward-to", f"http://127.0.0.1:{app_port}/webhooks"]
    env = {**os.environ, "INVWH_SECRET": SECRET}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_for_port(port)
        return hey(f"http://127.0.0.1:{port}/webhooks", count, body, headers)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6400, help="requests per hey run")
    args = parser.parse_args()
    if not shutil.which("hey"):
        print("bench/proxy.py: hey is missing: apt-get install hey", file=sys.stderr)
        return 2
    headers = sign(get_scheme("inventory-v1"), Secret(SECRET), BODY)  # valid for the 300 s tolerance
    with tempfile.TemporaryDirectory() as work:
        body = Path(work) / "body.json"
        body.write_bytes(BODY)
        slow_port, many_port = free_port(), free_port()
        threading.Thread(
            target=slow_app, args=(slow_port, 0.001), kwargs={"serial": True}, daemon=True
        ).start()
        threading.Thread(
            target=slow_app, args=(many_port, 0.001), kwargs={"serial": False}, daemon=True
        ).start()
        wait_for_port(slow_port)
        wait_for_port(many_port)
        nginx = Nginx(Path(work))
        apps = (
            ("slow app (1 ms a request, one at a time)", slow_port),
            ("1 ms a request, many at once (asyncio)", many_port),
            ("fast app (nginx)", nginx.port),
        )
        try:
            for name, port in apps:
                direct, _ = hey(f"http://127.0.0.1:{port}/webhooks", args.requests, body, headers)
                proxied, statuses = through_proxy(port, args.requests, body, headers)
                print(
                    f"{name}: direct {direct:.0f}/s, through listen --forward-to {proxied:.0f}/s, "
                    f"ratio {proxied / direct:.2f} (answers {statuses})"
                )
        finally:
            nginx.stop()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
