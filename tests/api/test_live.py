"""Live updates against a real server: the SSE stream in and out of scope, and signed
webhooks retried with backoff against a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
from typing import Any

import httpx

from chainsight.api.webhooks import SIGNATURE_HEADER
from tests.api.conftest import TRIAL, Api
from tests.api.helpers import post_event, schedule
from tests.api.live import Receiver, serve


def _listen(base: str, token: str, out: queue.Queue[Any], stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with httpx.Client(timeout=httpx.Timeout(10.0, read=1.0)) as client, client.stream(
            "GET", f"{base}/api/stream", headers=headers) as response:
        out.put(("status", response.status_code))
        kind = None
        try:
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith(": connected"):
                    out.put(("connected", None))
                elif line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind:
                    out.put((kind, json.loads(line.split(":", 1)[1])))
        except httpx.ReadTimeout:
            return


def _wait_for(out: queue.Queue[Any], kind: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got, data = out.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if got == kind:
            return data
    return None


def test_stream_delivers_a_new_event_in_scope_and_not_out_of_it(api: Api) -> None:
    with serve(api.app) as base:
        streams = {}
        stop = threading.Event()
        for user in ("site1", "site2", "cdmo"):
            out: queue.Queue[Any] = queue.Queue()
            thread = threading.Thread(target=_listen, args=(base, api.tokens[user], out, stop),
                                      daemon=True)
            thread.start()
            assert _wait_for(out, "status", 5) == 200
            assert _wait_for(out, "connected", 5) is None or True
            streams[user] = out
        time.sleep(0.3)
        assert post_event(api, "sponsor", schedule()).status_code == 201
        event = _wait_for(streams["site1"], "event", 5)
        assert event is not None, "the site's own patient's event reached its stream"
        assert event["kind"] == "apheresis_scheduled"
        assert event["patient"] == "P004"
        # Out of scope: another site, and a CDMO whose facility the patient is not at.
        assert _wait_for(streams["site2"], "event", 1.5) is None
        assert _wait_for(streams["cdmo"], "event", 0.5) is None
        stop.set()


def test_webhook_is_signed_and_retried_with_backoff(api: Api) -> None:
    with Receiver(failures=2) as receiver:
        mine = api.post("site1", "/api/webhooks",
                        {"url": f"{receiver.url}/site1", "topics": ["event"], "trial": TRIAL})
        assert mine.status_code == 201, mine.text
        secret = mine.json()["secret"]
        other = api.post("site2", "/api/webhooks", {"url": f"{receiver.url}/site2"})
        assert other.status_code == 201
        assert post_event(api, "sponsor", schedule()).status_code == 201
        hook = mine.json()["id"]
        deadline = time.monotonic() + 15
        log: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            log = api.get("site1", f"/api/webhooks/{hook}/deliveries").json()
            if log and log[0]["status"] == "delivered":
                break
            time.sleep(0.1)
        assert log[0]["status"] == "delivered", log
        assert log[0]["attempts"] == 3
        tries = receiver.at("/site1")
        assert len(tries) == 3
        for _, _, headers, body in tries:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
            assert json.loads(body)["data"]["patient"] == "P004"
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(tries)]
        base = api.settings.webhook_backoff_base_seconds if api.settings else 0.2
        assert gaps[0] >= base * 0.9
        assert gaps[1] >= 2 * base * 0.9, gaps  # the wait doubles
        assert receiver.at("/site2") == [], "S02's webhook must not see an S01 patient"
        # A tampered body fails verification.
        _, _, headers, body = tries[-1]
        tampered = body.replace(b"P004", b"P005")
        assert not hmac.compare_digest(
            headers[SIGNATURE_HEADER],
            "sha256=" + hmac.new(secret.encode(), tampered, hashlib.sha256).hexdigest())
