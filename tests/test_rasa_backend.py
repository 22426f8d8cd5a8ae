"""The Rasa backend: fallback against a fake server on 127.0.0.1, and the real server when installed.

The integration tests need the Rasa virtualenv and a model trained from the current nlu_data
(`scripts/rasa_env.sh train`, 30-60 minutes here). Without them they skip, saying so, unless
CI=true: then the fixture installs the virtualenv and trains a model on a small slice of the same
data and pipeline (`scripts/rasa_env.sh smoke-data`, about two minutes; both cached), and a server
that cannot be had fails the run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot.nlu.intents import INTENTS
from bot.nlu.rasa import RasaIntentClassifier, ranking_from_rasa

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "rasa_env.sh"
TOKEN = "test-token-123"

RASA_ANSWER: dict[str, Any] = {
    "text": "milloin ryhmä",
    "intent": {"name": "nlu_fallback", "confidence": 0.5},
    "entities": [],
    "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "group_schedule", "confidence": 0.45},
        {"name": "greet", "confidence": 0.35},
        {"name": "thanks", "confidence": 0.2},
    ],
}


class FallbackStub:
    """Stands in for the embedded classifier and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def classify(self, text: str, language: str | None = None) -> list[tuple[str, float]]:
        self.calls += 1
        return [("out_of_scope", 0.6), ("greet", 0.4)]


class FakeRasa:
    """A tiny HTTP server on 127.0.0.1 that answers like Rasa, or fails as told (`mode`)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                url = urlparse(self.path)
                fake.requests.append({"path": url.path, "query": parse_qs(url.query), "body": json.loads(body)})
                if fake.delay:
                    time.sleep(fake.delay)
                status, payload = {
                    "ok": (200, json.dumps(RASA_ANSWER).encode()),
                    "500": (500, b'{"status": "failure"}'),
                    "409": (409, b'{"message": "No agent loaded"}'),
                    "401": (401, b'{"message": "unauthorized"}'),
                    "garbage": (200, b"<html>not json</html>"),
                    "empty": (200, b'{"intent": {}, "intent_ranking": []}'),
                }[fake.mode]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasa()
    yield server
    server.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(url: str, clock: Clock, fallback: FallbackStub, timeout: float = 2.0) -> RasaIntentClassifier:
    return RasaIntentClassifier(url, TOKEN, fallback=fallback, timeout=timeout, clock=clock)


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens (Rasa down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- unit tests against the fake server ---------------------------------------------------------


def test_healthy_rasa_gives_its_ranking_without_nlu_fallback(fake_rasa: FakeRasa, clock: Clock) -> None:
    fallback = FallbackStub()
    client = make_client(fake_rasa.url, clock, fallback)
    ranking = client.classify("milloin ryhmä", "fi")
    assert ranking == [("group_schedule", 0.45), ("greet", 0.35), ("thanks", 0.2)]
    assert client.last_source == "rasa"
    assert fallback.calls == 0
    request = fake_rasa.requests[0]
    assert request["path"] == "/model/parse"
    assert request["query"] == {"token": [TOKEN]}
    assert request["body"] == {"text": "milloin ryhmä"}


def test_rasa_down_falls_back(clock: Clock) -> None:
    fallback = FallbackStub()
    client = make_client(closed_port_url(), clock, fallback)
    assert client.classify("hei", "fi") == [("out_of_scope", 0.6), ("greet", 0.4)]
    assert client.last_source == "fallback"
    assert not client.healthy


def test_slow_rasa_times_out_and_falls_back(fake_rasa: FakeRasa, clock: Clock) -> None:
    fake_rasa.delay = 1.5
    fallback = FallbackStub()
    client = make_client(fake_rasa.url, clock, fallback, timeout=0.3)
    started = time.perf_counter()
    ranking = client.classify("hei", "fi")
    assert time.perf_counter() - started < 1.2
    assert ranking[0][0] == "out_of_scope"
    assert fallback.calls == 1


def test_default_timeout_is_two_seconds() -> None:
    client = RasaIntentClassifier("http://127.0.0.1:1", fallback=FallbackStub())
    assert client._client.timeout.read == 2.0
    assert client._client.timeout.connect == 2.0


@pytest.mark.parametrize("mode", ["500", "409", "401", "garbage", "empty"])
def test_server_errors_fall_back(fake_rasa: FakeRasa, clock: Clock, mode: str) -> None:
    fake_rasa.mode = mode
    fallback = FallbackStub()
    client = make_client(fake_rasa.url, clock, fallback)
    assert client.classify("hei", "fi")[0][0] == "out_of_scope"
    assert client.last_source == "fallback"
    assert fallback.calls == 1


def test_backoff_spares_rasa_then_retries_and_recovers(fake_rasa: FakeRasa, clock: Clock) -> None:
    fake_rasa.mode = "500"
    fallback = FallbackStub()
    client = make_client(fake_rasa.url, clock, fallback)
    client.classify("a")
    assert len(fake_rasa.requests) == 1
    # Within the back-off Rasa is not asked at all: messages do not wait for a failing server.
    clock.now += 0.5
    client.classify("b")
    assert len(fake_rasa.requests) == 1
    assert fallback.calls == 2
    # After it, one probe; it fails again and the back-off doubles.
    clock.now += 0.6
    client.classify("c")
    assert len(fake_rasa.requests) == 2
    clock.now += 1.5
    client.classify("d")
    assert len(fake_rasa.requests) == 2
    # Rasa is back: the next probe after the back-off succeeds and Rasa is used again.
    fake_rasa.mode = "ok"
    clock.now += 0.6
    assert client.classify("e")[0][0] == "group_schedule"
    assert client.healthy
    assert client.classify("f")[0][0] == "group_schedule"
    assert len(fake_rasa.requests) == 4


def test_backoff_is_capped(clock: Clock) -> None:
    client = RasaIntentClassifier(
        closed_port_url(), fallback=FallbackStub(), clock=clock, min_backoff=1.0, max_backoff=4.0
    )
    waits = []
    for _ in range(6):
        client.classify("x")
        waits.append(client._backoff)
        clock.now += client._backoff
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_starting_rasa_is_picked_up_when_it_comes_up(clock: Clock) -> None:
    """Down first (nothing listening), then a server appears on that port: Rasa is used again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fallback = FallbackStub()
    client = make_client(f"http://127.0.0.1:{port}", clock, fallback)
    assert client.classify("x")[0][0] == "out_of_scope"
    server = FakeRasa()  # on its own port; point the client there as if Rasa had started there
    try:
        client.url = server.url
        clock.now += 1.1
        assert client.classify("x")[0][0] == "group_schedule"
    finally:
        server.close()


def test_ranking_from_rasa_validates() -> None:
    assert ranking_from_rasa({"intent": {"name": "greet", "confidence": 0.9}}) == [("greet", 0.9)]
    with pytest.raises(ValueError):
        ranking_from_rasa({"intent": {"name": "nlu_fallback", "confidence": 0.9}})
    with pytest.raises(TypeError):
        ranking_from_rasa(["not", "a", "dict"])


def test_token_is_not_logged(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(closed_port_url(), clock, FallbackStub())
    with caplog.at_level("DEBUG"):
        client.classify("x")
    assert TOKEN not in caplog.text


# --- the real Rasa server -----------------------------------------------------------------------


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"CI=true, but {reason}")
    pytest.skip(reason)


def _script(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


def _model_env() -> dict[str, str]:
    """The environment under which scripts/rasa_env.sh serves a model of the current nlu_data.

    The full model where one was trained; under CI otherwise a model of the smoke slice, trained here.
    """
    env = dict(os.environ)
    if _script("model-path").returncode == 0:
        return env
    if _required():
        smoke = _script("smoke-data", timeout=1800)  # installs the virtualenv first when it is missing
        if smoke.returncode != 0:
            _unavailable(f"scripts/rasa_env.sh smoke-data failed: {smoke.stderr[-2000:]}")
        env["AITO_NLU_DATA_DIR"] = smoke.stdout.strip()
        trained = _script("train", env=env, timeout=1800)
        if trained.returncode != 0:
            _unavailable(f"training the smoke model failed: {trained.stderr[-2000:]}")
    if _script("model-path", env=env).returncode != 0:
        _unavailable("no Rasa virtualenv with a model for the current nlu_data: run `scripts/rasa_env.sh train`")
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `rasa run --enable-api` on 127.0.0.1, started here and stopped at the end."""
    port = _free_port()
    env = {**_model_env(), "RASA_PORT": str(port), "RASA_TOKEN": TOKEN}
    log_path = tmp_path_factory.mktemp("rasa") / "rasa.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        ["bash", str(SCRIPT), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                _unavailable(f"the Rasa server exited with {process.returncode}; see {log_path}")
            try:
                status = httpx.get(f"{url}/status", params={"token": TOKEN}, timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                _unavailable(f"the Rasa server did not come up in 240 s; see {log_path}")
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_real_rasa_parses(rasa_server: str) -> None:
    fallback = FallbackStub()
    client = RasaIntentClassifier(rasa_server, TOKEN, fallback=fallback)
    ranking = client.classify("thank you so much", "en")
    assert client.last_source == "rasa"
    assert fallback.calls == 0
    assert ranking[0][0] == "thanks"
    assert "nlu_fallback" not in {name for name, _ in ranking}
    assert {name for name, _ in ranking} <= set(INTENTS)
    assert len(ranking) == len({name for name, _ in ranking}) >= 10  # ranking_length: 0 → every intent
    assert [score for _, score in ranking] == sorted((score for _, score in ranking), reverse=True)


@pytest.mark.slow
def test_real_rasa_requires_the_token(rasa_server: str) -> None:
    response = httpx.post(f"{rasa_server}/model/parse", json={"text": "hello"}, timeout=5)
    assert response.status_code == 401
    client = RasaIntentClassifier(rasa_server, "wrong-token", fallback=FallbackStub())
    client.classify("hello")
    assert client.last_source == "fallback"


@pytest.mark.slow
def test_real_rasa_through_the_pipeline(rasa_server: str, tmp_path: Path) -> None:
    from bot.nlu.pipeline import build_nlu
    from bot.settings import Settings

    settings = Settings(nlu_backend="rasa", rasa_url=rasa_server, rasa_token=TOKEN, cache_dir=tmp_path)
    nlu = build_nlu(settings)
    result = nlu.understand("milloin ryhmä kokoontuu?", user_language="fi")
    assert nlu.classifier.last_source == "rasa"  # type: ignore[attr-defined]
    assert result.intent == "group_schedule"


def test_concurrent_failures_of_one_outage_do_not_escalate_the_backoff(clock: Clock) -> None:
    client = RasaIntentClassifier(closed_port_url(), fallback=FallbackStub(), clock=clock)
    # Two calls that both started while Rasa looked healthy, failing one after the other.
    assert client._attempt() is False
    assert client._attempt() is False
    client._record_failure("x", probe=False)
    client._record_failure("x", probe=False)
    assert client._backoff == client.min_backoff
    assert client._attempt() is None  # within the back-off: no call at all
    clock.now += client.min_backoff
    assert client._attempt() is True  # the probe
    assert client._attempt() is None  # only one probe at a time
