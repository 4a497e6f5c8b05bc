"""The service under load: requests per second and p99 latency of reading a trial's plan
and of recording events with 50 concurrent clients, and the double bookings when 50
clients race for the same last apheresis slot (must be 0).

A real uvicorn server on 127.0.0.1 in this process, httpx async clients, bounded request
counts. SQLite always; PostgreSQL too with ``--postgres URL`` or
``$CHAINSIGHT_TEST_POSTGRES_URL`` (a schema of its own, dropped afterwards).
Figures go to benchmarks/README.md (section "API") by hand, with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from _machine import machine  # benchmarks/ is the script's folder
from sqlalchemy import func, select

from chainsight.api.app import create_app
from chainsight.api.auth import service as auth
from chainsight.api.settings import Settings
from chainsight.record.models import BookingRow
from chainsight.store.session import close_stores, create_store_engine, open_store

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo-cart-phase1.yaml"
TRIAL = "CART-DEMO"
NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)
CLIENTS = 50


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(url: str) -> Iterator[str]:
    """The service on ``url`` under uvicorn on 127.0.0.1; yields its base URL."""
    settings = Settings(database_url=url, webhooks_enabled=False, plan_time_limit_seconds=5.0,
                        argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1)
    app = create_app(settings, clock=lambda: NOW)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                            lifespan="off", limit_concurrency=1000)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=15)


def sponsor_token(url: str) -> str:
    """A sponsor user's token in the store at ``url``."""
    factory = open_store(url)
    from chainsight.api.auth.secrets import password_hasher

    with factory() as session, session.begin():
        return auth.create_user(session, hasher=password_hasher(time_cost=1, memory_kib=64,
                                                                parallelism=1),
                                name=f"bench-{uuid.uuid4().hex[:8]}", role="sponsor",
                                created_by="benchmark").token


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def load(base: str, token: str, requests: list[tuple[str, str, Any]],
               clients: int = CLIENTS, time_limit: float = 60.0) -> dict[str, Any]:
    """Send ``requests`` with ``clients`` concurrent clients; latency per request."""
    queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + time_limit
    headers = {"Authorization": f"Bearer {token}"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while not queue.empty() and time.monotonic() < deadline:
                method, path, body = queue.get_nowait()
                start = time.perf_counter()
                try:
                    status = (await http.request(method, path, json=body)).status_code
                except httpx.HTTPError:
                    status = 0  # the connection failed: counted, not fatal
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    return {"requests": len(latencies), "seconds": round(elapsed, 2),
            "rps": round(len(latencies) / elapsed, 1), "ok_rps": round(ok / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(p99(latencies) * 1000, 1), "statuses": statuses}


def enrol(patient: str) -> dict[str, Any]:
    """An enrolment at S01 (a new patient each time)."""
    return {"kind": "patient_enrolled", "patient": patient, "site": "S01",
            "occurred_on": "2027-01-11"}


def run(url: str, label: str, reads: int, writes: int) -> dict[str, Any]:
    """All three measurements on one database."""
    token = sponsor_token_after_import(url)
    results: dict[str, Any] = {"database": label}
    with server(url) as base:
        headers = {"Authorization": f"Bearer {token}"}
        made = httpx.post(f"{base}/api/trials/{TRIAL}/plan", json={"reason": "benchmark"},
                          headers=headers, timeout=120)
        assert made.status_code == 201, made.text
        results["read_plan"] = asyncio.run(load(
            base, token, [("GET", f"/api/trials/{TRIAL}/plan", None)] * reads))
        events = [("POST", f"/api/trials/{TRIAL}/events", enrol(f"B{i:04d}"))
                  for i in range(writes)]
        results["record_events"] = asyncio.run(load(base, token, events))
        # The race: 50 new patients, then all 50 book the same apheresis day (1 per day).
        racers = [f"R{i:03d}" for i in range(CLIENTS)]
        asyncio.run(load(base, token, [("POST", f"/api/trials/{TRIAL}/events", enrol(p))
                                       for p in racers], clients=10))
        day = "2027-01-21"
        race = asyncio.run(load(base, token, [
            ("POST", f"/api/trials/{TRIAL}/events",
             {"kind": "apheresis_scheduled", "patient": p, "occurred_on": "2027-01-15",
              "day": day}) for p in racers]))
        factory = open_store(url)
        with factory() as session:
            booked = session.scalar(select(func.count(BookingRow.id)).where(
                BookingRow.trial == TRIAL, BookingRow.resource == "S01",
                BookingRow.day == dt.date.fromisoformat(day)))
        results["race"] = {"clients": CLIENTS, "accepted": race["statuses"].get(201, 0),
                           "statuses": race["statuses"], "bookings": booked,
                           "double_bookings": max(0, int(booked or 0) - 1)}
    return results


def sponsor_token_after_import(url: str) -> str:
    """Import the demo trial into the empty store at ``url`` and return a sponsor token."""
    token = sponsor_token(url)
    settings = Settings(database_url=url, webhooks_enabled=False)
    app = create_app(settings, clock=lambda: NOW)
    from fastapi.testclient import TestClient

    data = json.loads(json.dumps(yaml.safe_load(DEMO.read_text(encoding="utf-8")),
                                 default=str))
    with TestClient(app) as client:
        response = client.post("/api/trials", json=data,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
    return token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("CHAINSIGHT_TEST_POSTGRES_URL"))
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"clients: {CLIENTS}; reads: {args.reads} GET plan; writes: {args.writes} events")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        targets = [(f"sqlite:///{folder}/bench.db", "sqlite", None)]
        if args.postgres:
            admin = create_store_engine(args.postgres)
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
            targets.append((url.render_as_string(hide_password=False), "postgresql", schema))
        for url, label, schema_name in targets:
            try:
                results = run(url, label, args.reads, args.writes)
            finally:
                close_stores()
                if schema_name is not None:
                    with admin.begin() as connection:
                        connection.exec_driver_sql(f'DROP SCHEMA "{schema_name}" CASCADE')
            print(json.dumps(results, indent=1))
            failed |= results["race"]["double_bookings"] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
