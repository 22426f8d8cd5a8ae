"""The aiohttp backend of python-telegram-bot (bot/channels/http_client.py): bodies, proxies, errors.

Sending through it end to end (messages, .ics documents, retries) is covered by the Telegram tests,
which all run on it; here are the parts those do not reach.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.http_client import AiohttpRequest, _body


def _data(**parameters: object) -> RequestData:
    return RequestData([RequestParameter.from_input(name, value) for name, value in parameters.items()])


def test_plain_parameters_are_form_encoded() -> None:
    body, headers = _body(_data(chat_id=42, text="hyvää päivää & tervetuloa"))
    assert headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert parse_qs(body.decode()) == {"chat_id": ["42"], "text": ["hyvää päivää & tervetuloa"]}


def test_no_parameters_send_no_body() -> None:
    assert _body(None) == (None, None)
    assert _body(_data()) == (None, None)


def test_files_go_as_multipart() -> None:
    document = InputFile(b"BEGIN:VCALENDAR", filename="aito-booking.ics")
    body, headers = _body(_data(chat_id=42, document=document))
    assert headers is None  # aiohttp sets multipart/form-data with its boundary
    assert type(body).__name__ == "FormData"
    assert {field[0]["name"] for field in body._fields} == {"chat_id", "document"}


@pytest.mark.parametrize(
    ("no_proxy", "expected"),
    [("", "http://proxy.example:3128"), ("api.telegram.org", None), ("*", None)],
)
def test_proxies_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, expected: str | None
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    if no_proxy:
        monkeypatch.setenv("no_proxy", no_proxy)
    assert AiohttpRequest()._proxy("https://api.telegram.org/bot123:abc/sendMessage") == expected


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot123:abc/getMe"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_does_not_answer_times_out(silent_server: str) -> None:
    request = AiohttpRequest(read_timeout=0.3)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(silent_server, "POST", _data(chat_id=1))
    finally:
        await request.shutdown()


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(f"http://127.0.0.1:{port}/bot123:abc/getMe", "POST")
        assert not isinstance(raised.value, TimedOut)
    finally:
        await request.shutdown()


async def test_an_uninitialised_client_says_so() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/", "POST")
