"""invwh's benchmark suite: every figure a ratio against a reference measured in the same run.

    python bench/run.py                 # everything, a few minutes on 2 cores
    python bench/run.py startup audit   # some measurements only
    python bench/run.py --quick         # fewer repetitions and smaller inputs

It installs what it needs (hey, nginx from Debian; invwh itself from this
checkout, and uvicorn with uvloop for the receiver's reference, into
bench/.venv, never into the environment it is run from) unless --no-install, alternates the two sides of
each measurement, and prints a table: measurement, invwh figure, reference
figure, median ratio, min-max, goal, pass/fail. The table is also written to
bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv"
RESULTS = HERE / "results"
SECRET = "bench-secret-not-for-real-use"
SAMPLE = ROOT / "samples" / "stock-increase.json"


@dataclass
class Row:
    name: str
    unit: str
    invwh: float  # median figure of invwh
    reference: float  # median figure of the reference
    ratio: float  # median of the per-round ratios
    low: float
    high: float
    goal: str  # e.g. "<= 2.5" or ">= 0.5"
    passed: bool
    notes: str = ""
    rounds: list[tuple[float, float]] = field(default_factory=list)


def ratio_row(name: str, unit: str, pairs: list[tuple[float, float]], goal: str, notes: str = "") -> Row:
    ratios = [a / b for a, b in pairs]
    ratio = statistics.median(ratios)
    op, bound = goal.split()
    passed = ratio <= float(bound) if op == "<=" else ratio >= float(bound)
    return Row(
        name,
        unit,
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        ratio,
        min(ratios),
        max(ratios),
        goal,
        passed,
        notes,
        pairs,
    )


# --- setup --------------------------------------------------------------------


def ensure_tools(install: bool) -> None:
    missing = [
        tool for tool in ("hey", "nginx") if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing and install:
        run(["apt-get", "update", "-qq"])
        run(
            ["apt-get", "install", "-y", "-qq", "hey", "nginx-light"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if install or not (VENV / "bin" / "invwh").exists():
        if not VENV.exists():
            run([sys.executable, "-m", "venv", str(VENV)])
        # A regular install, as users have it: an editable one adds an import hook to every start.
        # uvicorn, uvloop and fastjsonschema are the receiver's references only: here, never in
        # invwh's dependencies.
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        run([*pip, str(ROOT), "uvicorn", "uvloop", "httptools", "fastjsonschema"])


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]


def invwh_bin() -> str:
    return str(VENV / "bin" / "invwh")


def venv_python() -> str:
    return str(VENV / "bin" / "python")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def signed_headers(body: bytes, timestamp: int) -> dict[str, str]:
    message = b"POST|" + str(timestamp).encode() + b"|" + body
    digest = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha512).digest()).decode()
    return {"X-Timestamp": str(timestamp), "X-Webhook-Signature": f"v1={digest}"}


def write_recording(path: Path, count: int) -> None:
    """``count`` validly signed deliveries in the format ``invwh listen --record`` writes."""
    kinds = [
        ("inventoryStockIncreaseEventType", "stock.increase"),
        ("inventoryStockDecreaseEventType", "stock.decrease"),
        ("inventoryStockDepletedEventType", "stock.depleted"),
    ]
    start = int(time.time()) - count // 1000 - 60
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            key, value = kinds[n % 3]
            event = {key: value, "eventId": f"evt_{n:012d}", "sku": "WIDGET-BLU-M", "quantityChange": n % 97}
            body = json.dumps(event).encode()
            stamp = start + n // 1000
            headers = {"Content-Type": "application/json", **signed_headers(body, stamp)}
            record = {
                "received_at_unix": stamp + 0.25,
                "method": "POST",
                "path": "/webhooks",
                "headers": headers,
                "body": body.decode(),
                "body_encoding": "utf-8",
                "verdict": {"valid": True, "reason": "ok", "event_type": value},
                "status": 200,
            }
            out.write(json.dumps(record) + "\n")


# --- measurements -------------------------------------------------------------


def wall(args: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def measure_startup(rounds: int) -> list[Row]:
    reference = [venv_python(), "-c", "import hmac, hashlib, json"]
    env = {**os.environ, "INVWH_SECRET": SECRET}
    commands = {
        "start-up: invwh sign": ([invwh_bin(), "sign", str(SAMPLE), "--secret", SECRET], "<= 2.3"),
        "start-up: invwh --version": ([invwh_bin(), "--version"], "<= 3"),
        "start-up: invwh validate": ([invwh_bin(), "validate", str(SAMPLE)], "<= 2.5"),
    }
    rows = []
    for name, (command, goal) in commands.items():
        for _ in range(3):  # warm the page cache and the .pyc files
            wall(command, env=env)
            wall(reference)
        pairs = []
        for _ in range(rounds):
            pairs.append((wall(command, env=env), wall(reference)))
        pairs = [(a * 1000, b * 1000) for a, b in pairs]
        rows.append(ratio_row(name, "ms", pairs, goal, "reference: python -c 'import hmac, hashlib, json'"))
    return rows


def measure_audit(rounds: int, count: int, work: Path) -> list[Row]:
    recording = work / f"audit-{count}.jsonl"
    write_recording(recording, count)
    invwh = [invwh_bin(), "audit", str(recording), "--secret", SECRET, "--tolerance", "0"]
    reference = [venv_python(), str(HERE / "reference_audit.py"), str(recording), SECRET]
    pairs = []
    for _ in range(rounds):
        pairs.append((count / wall(invwh), count / wall(reference)))
    return [
        ratio_row(
            f"audit: invwh audit ({count:,} deliveries)",
            "deliveries/s",
            pairs,
            ">= 1.0",
            "reference: bench/reference_audit.py (parse, decode, HMAC, compare, discriminator)",
        )
    ]


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
    location / {{ client_max_body_size 2m; client_body_buffer_size 64k; return 200 "ok"; }}
  }}
}}
"""
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-c", str(conf), "-p", str(self.dir)], check=True)
        wait_for_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/webhooks"

    def stop(self) -> None:
        pid = int((self.dir / "nginx.pid").read_text())
        os.kill(pid, signal.SIGQUIT)


def hey(url: str, count: int, concurrency: int, body: Path, headers: dict[str, str]) -> dict[str, float]:
    args = [
        "hey",
        "-n",
        str(count),
        "-c",
        str(concurrency),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body),
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    figures = {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        found = re.search(rf"{pct}% in ([\d.]+) secs", out)
        if found:
            figures[f"p{pct}_ms"] = float(found.group(1)) * 1000
    statuses = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    figures["ok"] = float(statuses.get("200", 0))
    return figures


def replay_command(recording: Path, url: str) -> list[str]:
    return [invwh_bin(), "replay", str(recording), "--url", url, "--concurrency", "16", "--secret", SECRET,
            "--format", "json"]  # fmt: skip


def measure_replay(rounds: int, count: int, work: Path) -> list[Row]:
    recording = work / f"replay-{count}.jsonl"
    write_recording(recording, count)
    body = work / "body.json"
    body.write_bytes(SAMPLE.read_bytes())
    nginx = Nginx(work)
    try:
        invwh = replay_command(recording, nginx.url)
        pairs = []
        for _ in range(rounds):
            seconds = wall(invwh)
            pairs.append((count / seconds, hey(nginx.url, count, 16, body, {})["rate"]))
    finally:
        nginx.stop()
    return [
        ratio_row(
            f"replay: {count:,} deliveries, concurrency 16, to nginx",
            "deliveries/s",
            pairs,
            ">= 0.6",
            "reference: hey -c 16 with the same body to the same nginx",
        )
    ]


@contextlib.contextmanager
def listen_server(record: Path, tolerance: int = 0) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``invwh listen --record`` on a free port; stopped with SIGTERM, as a user stops it."""
    port = free_port()
    server = subprocess.Popen(
        [invwh_bin(), "listen", "--port", str(port), "--record", str(record), "--tolerance", str(tolerance),
         "--secret", SECRET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield server, port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


#: The receiver's peers, each a raw ASGI app on uvicorn (httptools, uvloop, one worker) or a server.
PEERS = {
    "samework": "bench/asgi_samework.py: the same work (signature, age, schemas, one recorded line)",
    "uvicorn": "bench/asgi_noop.py: reads the body and answers 200",
    "threading": "bench/noop_server.py: a ThreadingHTTPServer that answers 200",
}


@contextlib.contextmanager
def reference_server(kind: str, record: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A reference on a free port: ``samework`` or ``uvicorn`` (raw ASGI on httptools and uvloop) or
    ``threading``; ``samework`` records into ``record``."""
    port = free_port()
    env = dict(os.environ)
    if kind in ("uvicorn", "samework"):
        module = "asgi_noop:app" if kind == "uvicorn" else "asgi_samework:app"
        command = [str(VENV / "bin" / "uvicorn"), module, "--app-dir", str(HERE), "--http",
                   "httptools", "--loop", "uvloop", "--port", str(port), "--log-level", "warning",
                   "--no-access-log"]  # fmt: skip
        if kind == "samework":
            assert record is not None
            env.update(PEER_SECRET=SECRET, PEER_RECORD=str(record), PEER_TOLERANCE=str(LISTEN_TOLERANCE))
    else:
        command = [venv_python(), str(HERE / "noop_server.py"), str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for_port(port)
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=30)


#: Both listen and the same-work peer check the timestamp's age, as a deployment would.
LISTEN_TOLERANCE = 300


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/webhooks", body, {"Content-Type": "application/json", **headers})
        return connection.getresponse().status
    finally:
        connection.close()


def check_answers(port: int, record: Path) -> None:
    """Before any timing: a server's answers are right (200, 401 forged, 401 stale, 422) and recorded."""
    body = SAMPLE.read_bytes()
    now = int(time.time())
    signed = signed_headers(body, now)
    cases = [
        (body, signed, 200),
        (body.replace(b"120", b"999"), signed, 401),  # a forged body under a genuine signature
        (body, signed_headers(body, now - 3600), 401),  # stale
        (b'{"sku": "X"}', signed_headers(b'{"sku": "X"}', now), 422),
    ]
    for n, (data, headers, expected) in enumerate(cases):
        status = post(port, data, headers)
        if status != expected:
            raise RuntimeError(f"peer check {n}: answered {status}, expected {expected}")
    lines = record.read_bytes().splitlines()
    statuses = [json.loads(line)["status"] for line in lines]
    if statuses != [expected for _, _, expected in cases]:
        raise RuntimeError(f"peer check: recorded {statuses}")
    record.unlink()


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process has used, from /proc: steadier than a rate when shared."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_hey(server: subprocess.Popen[bytes], port: int, count: int, body: Path, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """hey's figures, and the server's CPU time a request in microseconds (``cpu_us``)."""
    before = cpu_seconds(server.pid)
    figures = hey(f"http://127.0.0.1:{port}/webhooks", count, 32, body, headers)
    figures["cpu_us"] = (cpu_seconds(server.pid) - before) / count * 1e6
    return figures


def measure_listen(rounds: int, count: int, work: Path) -> list[Row]:
    body = work / "listen-body.json"
    body.write_bytes(SAMPLE.read_bytes())
    # Right answers first: a fast peer that answers wrongly measures nothing.
    for kind in ("listen", "samework"):
        record = work / f"check-{kind}.jsonl"
        if kind == "listen":
            with listen_server(record, LISTEN_TOLERANCE) as (_, port):
                check_answers(port, record)
        else:
            with reference_server(kind, record) as (_, port):
                check_answers(port, record)
    pairs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in PEERS}
    cpu: list[tuple[float, float]] = []  # µs of CPU a request: listen's, the same-work peer's
    notes = []
    for n in range(rounds):  # the servers alternate, one after another, in every round
        headers = signed_headers(body.read_bytes(), int(time.time()))  # fresh: both check the age
        record = work / f"listen-{n}.jsonl"
        with listen_server(record, LISTEN_TOLERANCE) as (server, port):
            mine = timed_hey(server, port, count, body, headers)
        lines = record.read_text(encoding="utf-8").splitlines()
        whole = sum(1 for line in lines if json.loads(line)["status"] == 200)
        theirs = {}
        peer_record = work / f"peer-{n}.jsonl"
        for kind in pairs:
            with reference_server(kind, peer_record) as (server, port):
                theirs[kind] = timed_hey(server, port, count, body, headers)
            pairs[kind].append((mine["rate"], theirs[kind]["rate"]))
        cpu.append((mine["cpu_us"], theirs["samework"]["cpu_us"]))
        peer_lines = peer_record.read_bytes().count(b"\n")
        latency = ", ".join(
            f"{kind} p50 {figures.get('p50_ms', 0):.1f} ms, p99 {figures.get('p99_ms', 0):.1f} ms, "
            f"{figures['cpu_us']:.0f} µs CPU a request"
            for kind, figures in theirs.items()
        )
        notes.append(
            f"round {n + 1}: {int(mine['ok'])} answered 200, {len(lines)} recorded, {whole} recorded 200, "
            f"p50 {mine.get('p50_ms', 0):.1f} ms, p99 {mine.get('p99_ms', 0):.1f} ms, "
            f"{mine['cpu_us']:.0f} µs CPU a request ({latency}; "
            f"the peer answered {int(theirs['samework']['ok'])} 200, recorded {peer_lines})"
        )
        sent = count - count % 32  # hey sends whole rounds of its 32 workers
        if len(lines) != sent or whole != mine["ok"]:
            notes.append("LOST OR PARTIAL RECORDS")
        if theirs["samework"]["ok"] != sent:
            notes.append("THE PEER ANSWERED OTHER THAN 200")
    lost = any("LOST" in note or "PEER" in note for note in notes)
    rows = [
        ratio_row(
            "receiver: listen --record vs the same-work peer, hey -c 32",
            "requests/s",
            pairs["samework"],
            ">= 1.25",
            f"reference: {PEERS['samework']}, on uvicorn --http httptools --loop uvloop, one worker; "
            f"both --tolerance {LISTEN_TOLERANCE}; " + "; ".join(notes),
        ),
        ratio_row(
            "receiver: listen --record vs a no-op uvicorn app (the limit), hey -c 32",
            "requests/s",
            pairs["uvicorn"],
            ">= 0.5",
            f"reference: {PEERS['uvicorn']}, on the same stack",
        ),
        ratio_row(
            "receiver: CPU a request, listen --record vs the same-work peer",
            "µs",
            cpu,
            "<= 0.8",
            "the servers' user and system time from /proc over each hey run: 1.25x the rate, where CPU binds",
        ),
        ratio_row(
            "receiver: listen --record vs ThreadingHTTPServer, hey -c 32",
            "requests/s",
            pairs["threading"],
            ">= 0.7",
            f"reference: {PEERS['threading']}",
        ),
    ]
    for row in rows:
        row.passed = row.passed and not lost
    return rows


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def pipeline_without_reading(port: int, clients: int, seconds: float) -> None:
    """``clients`` connections that pipeline signed POSTs for ``seconds`` and never read an answer."""
    body = SAMPLE.read_bytes()
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(body, int(time.time())).items())
    request = (
        f"POST /webhooks HTTP/1.1\r\nHost: bench\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    burst = request * 100
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(clients)]
    unsent = [memoryview(burst) for _ in socks]  # a write cut short goes on where it stopped
    for sock in socks:
        sock.setblocking(False)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for index, sock in enumerate(socks):
                with contextlib.suppress(BlockingIOError):
                    sent = sock.send(unsent[index])
                    unsent[index] = unsent[index][sent:] or memoryview(burst)
            time.sleep(0.001)
    finally:
        for sock in socks:
            sock.close()


def measure_listen_memory(seconds: float, work: Path) -> list[Row]:
    """Peak RSS of ``listen --record`` while 1, then 64, clients pipeline without reading."""
    rows = []
    for clients in (1, 64):
        record = work / f"listen-memory-{clients}.jsonl"
        with listen_server(record) as (server, port):
            idle = rss_mb(server.pid)
            pipeline_without_reading(port, clients, seconds)
            peak = rss_mb(server.pid, "VmHWM")
        recorded = sum(1 for _ in record.open("rb"))
        row = ratio_row(
            f"memory: listen, {clients} client{'s' if clients > 1 else ''} pipelining without reading",
            "MB peak RSS",
            [(peak, idle)],
            "<= 1.5",
            f"{peak:.0f} MB peak against {idle:.0f} MB idle (goal < 64 MB) after {seconds:.0f} s, "
            f"{recorded:,} deliveries recorded meanwhile",
        )
        row.passed = row.passed and peak < 64
        rows.append(row)
    return rows


def peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of one child process, from the kernel's own account."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    return int(out.strip()) / 1024


def measure_memory(small: int, large: int, work: Path) -> list[Row]:
    rows = []
    recordings = {}
    for count in (small, large):
        recordings[count] = work / f"memory-{count}.jsonl"
        write_recording(recordings[count], count)
    audit = {
        n: peak_rss_mb([invwh_bin(), "audit", str(p), "--secret", SECRET, "--tolerance", "0"])
        for n, p in recordings.items()
    }
    rows.append(
        ratio_row(
            f"memory: invwh audit {large:,} vs {small:,}",
            "MB peak RSS",
            [(audit[large], audit[small])],
            "<= 1.2",
            f"{audit[large]:.0f} MB at {large:,} (goal < 100)",
        )
    )
    rows[-1].passed = rows[-1].passed and audit[large] < 100
    nginx = Nginx(work)
    try:
        replay = {n: peak_rss_mb(replay_command(p, nginx.url)) for n, p in recordings.items()}
    finally:
        nginx.stop()
    rows.append(
        ratio_row(
            f"memory: replay {large:,} vs {small:,}",
            "MB peak RSS",
            [(replay[large], replay[small])],
            "<= 1.2",
            f"{replay[large]:.0f} MB at {large:,} (goal < 100)",
        )
    )
    rows[-1].passed = rows[-1].passed and replay[large] < 100
    return rows


# --- report -------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = ("measurement", "invwh", "reference", "ratio", "min-max", "goal", "")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.name,
                f"{r.invwh:,.1f} {r.unit}",
                f"{r.reference:,.1f} {r.unit}",
                f"{r.ratio:.2f}",
                f"{r.low:.2f}-{r.high:.2f}",
                r.goal,
                "pass" if r.passed else "FAIL",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    for r in rows:
        if r.notes:
            print(f"- {r.name}: {r.notes}")


def machine() -> dict[str, str]:
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


MEASUREMENTS: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
    "startup": lambda a, w: measure_startup(8 if a.quick else 20),
    # Five rounds: one round of either side can be 10-20% off on a shared 2-core machine.
    "audit": lambda a, w: measure_audit(2 if a.quick else 5, 50_000 if a.quick else 200_000, w),
    "replay": lambda a, w: measure_replay(2 if a.quick else 3, 5_000 if a.quick else 20_000, w),
    "listen": lambda a, w: measure_listen(2 if a.quick else 3, 5_000 if a.quick else 20_000, w),
    "listen-memory": lambda a, w: measure_listen_memory(2 if a.quick else 5, w),
    "memory": lambda a, w: measure_memory(
        10_000 if a.quick else 100_000, 100_000 if a.quick else 1_000_000, w
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "only", nargs="*", help=f"measurements to run: {', '.join(MEASUREMENTS)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs")
    parser.add_argument("--no-install", action="store_true", help="use the tools and bench/.venv as they are")
    args = parser.parse_args()
    unknown = set(args.only) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    ensure_tools(install=not args.no_install)
    rows: list[Row] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="invwh-bench-") as work:
        for name in args.only or list(MEASUREMENTS):
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows += MEASUREMENTS[name](args, Path(work))
    print()
    print_table(rows)
    about = machine()
    print(
        f"\n{about['cpu']}, {about['cores']} cores, Python {about['python']}, {about['system']}; "
        f"{time.monotonic() - started:.0f} s"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps({"machine": about, "quick": args.quick, "rows": [asdict(r) for r in rows]}, indent=2)
        + "\n"
    )
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
