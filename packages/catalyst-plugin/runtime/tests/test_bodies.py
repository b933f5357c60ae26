from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType, SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from catalyst_runtime import (
    BodyTooLarge,
    ClientDisconnected,
    ExecutionContext,
    InputValidationError,
    Settings,
    input_body,
    json_response,
    read_input,
    to_json,
)
from catalyst_runtime.bodies import LIMITS_ATTRIBUTE, RequestLimits, dumps, request_receive
from catalyst_runtime.errors import BodyTimeout, UnsupportedMediaType

ANY_INT_MSG = "Input should be a valid integer, unable to parse string as an integer"


class Address(BaseModel):
    city: str


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    secret_token: str = "unset"
    home: Address | None = None


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


def _request(body: bytes, content_type: bytes | None = b"application/json") -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [] if content_type is None else [(b"content-type", content_type)]
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


@pytest.mark.anyio
async def test_read_input_parses_and_validates() -> None:
    messages = [{"type": "http.request", "body": b'{"name": "Ada", "home": {"city": "London"}}'}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    headers = [(b"content-type", b"application/json")]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    person = await read_input(request, Person)
    assert person == Person(name="Ada", home=Address(city="London"))
    # A hand-written route may read the body again, as after Starlette's own request.body().
    assert (await request.json())["name"] == "Ada"


@pytest.mark.anyio
async def test_read_input_rejects_a_schema_violation_without_echoing_input() -> None:
    body = b'{"name": "", "secret_token": 42}'
    with pytest.raises(InputValidationError) as caught:
        await read_input(_request(body), Person)
    error = caught.value
    assert error.status_code == 422
    assert [d["loc"] for d in error.details()] == [["body", "name"], ["body", "secret_token"]]
    assert {tuple(d) for d in error.details()} == {("type", "loc", "msg")}
    assert "42" not in orjson.dumps(error.to_body()).decode()


@pytest.mark.anyio
async def test_read_input_rejects_invalid_json() -> None:
    with pytest.raises(InputValidationError) as caught:
        await read_input(_request(b'{"name": "Ada", password=hunter2}'), Person)
    [detail] = caught.value.details()
    assert detail["type"] == "json_invalid"
    assert detail["loc"] == ["body"]
    assert "hunter2" not in detail["msg"]


@pytest.mark.anyio
async def test_a_body_over_the_limit_in_one_message_is_413() -> None:
    # No Content-Length (a chunked body that arrived whole): the size is checked all the same.
    with pytest.raises(BodyTooLarge) as caught:
        await read_input(_request(b'{"name": "' + b"a" * (1024 * 1024) + b'"}'), Person)
    assert caught.value.status_code == 413
    assert caught.value.headers == {"connection": "close"}


@pytest.mark.anyio
async def test_a_disconnect_before_the_body_is_client_disconnected() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    headers = [(b"content-type", b"application/json")]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    with pytest.raises(ClientDisconnected):
        await read_input(request, Person)


@pytest.mark.anyio
async def test_read_input_rejects_an_empty_body() -> None:
    with pytest.raises(InputValidationError, match="invalid input"):
        await read_input(_request(b""), Person)


def test_input_error_without_details() -> None:
    assert str(InputValidationError([])) == "invalid input: invalid input"


def test_input_body_inlines_nested_models() -> None:
    extra = input_body(Person)
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    assert extra["requestBody"]["required"] is True
    assert "$defs" not in orjson.dumps(schema).decode()
    assert "$ref" not in orjson.dumps(schema).decode()
    assert schema["required"] == ["name"]
    home = schema["properties"]["home"]["anyOf"][0]
    assert home["properties"]["city"]["type"] == "string"


def test_input_body_survives_recursive_models() -> None:
    schema = input_body(Tree)["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["label"]["type"] == "string"
    assert schema["properties"]["children"]["items"]["type"] == "object"
    assert "$ref" not in orjson.dumps(schema).decode()


@dataclasses.dataclass
class Point:
    x: int


def test_dumps_handles_the_usual_types() -> None:
    value = {
        "model": Address(city="Paris"),
        "integral": Decimal("3"),
        "fraction": Decimal("1.5"),
        "set": {1},
        "tuple": (1, 2),
        "mapping": MappingProxyType({"k": "v"}),
        "point": Point(1),
        "id": uuid.UUID(int=1),
    }
    assert orjson.loads(dumps(value)) == {
        "model": {"city": "Paris"},
        "integral": 3,
        "fraction": 1.5,
        "set": [1],
        "tuple": [1, 2],
        "mapping": {"k": "v"},
        "point": {"x": 1},
        "id": "00000000-0000-0000-0000-000000000001",
    }
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps(object())


def test_values_orjson_refuses_take_the_slow_path() -> None:
    big = 123456789012345678901234567891
    value = {
        "big": big,
        "negative": -(2**63) - 1,
        "edge": [2**64 - 1, -(2**63), True],
        "nested": (Address(city="x"), Decimal("1e40"), {7: "int key"}),
        "kept": [None, 1.5, "s", uuid.UUID(int=2)],
    }
    text = to_json(value)
    assert json.loads(text)["big"] == big  # exact, as JSON allows
    assert '"negative":-9223372036854775809' in text
    assert '"edge":[18446744073709551615,-9223372036854775808,true]' in text
    assert '{"city":"x"},10000000000000000000000000000000000000000,{"7":"int key"}' in text
    assert '"kept":[null,1.5,"s","00000000-0000-0000-0000-000000000002"]' in text
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"big": big, "bad": object()})


def test_to_json_is_compact_text() -> None:
    assert to_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_json_response_carries_server_timing() -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("greet"):
        pass
    response = json_response({"ok": True}, ctx, status_code=201)
    assert response.status_code == 201
    assert response.body == b'{"ok":true}'
    assert response.media_type == "application/json"
    assert response.headers["server-timing"].startswith("greet;dur=")
    assert response.headers["content-length"] == "11"


def test_json_response_has_the_headers_starlette_would_write() -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("greet"):
        pass
    body = {"message": "héllo", "n": [1, 2]}
    fast = json_response(body, ctx)
    timing = fast.headers["server-timing"]
    reference = Response(
        content=orjson.dumps(body),
        media_type="application/json",
        headers={"server-timing": timing},
    )
    assert fast.body == reference.body
    assert sorted(fast.raw_headers) == sorted(reference.raw_headers)
    assert fast.background is None


def _streamed(
    chunks: list[bytes], *, then: dict[str, Any] | None = None, limits: RequestLimits | None = None
) -> Request:
    """A request whose body arrives in ``chunks`` (``more_body`` on all but the last), then
    ``then`` (by default nothing more: the client waits), on an app holding ``limits``."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if then is not None:
        messages[-1]["more_body"] = True
        messages.append(then)

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a client that sends nothing more
        raise AssertionError("unreachable")

    app = SimpleNamespace(**{LIMITS_ATTRIBUTE: limits or RequestLimits()})
    headers = [(b"content-type", b"application/json")]
    return Request({"type": "http", "method": "POST", "headers": headers, "app": app}, receive)


@pytest.mark.anyio
async def test_a_body_in_several_messages_is_read_whole() -> None:
    chunks = [b'{"name": ', b'"Ada", "home": ', b"", b'{"city": "London"}}']
    person = await read_input(_streamed(chunks), Person)
    assert (person.name, person.home) == ("Ada", Address(city="London"))


@pytest.mark.anyio
async def test_a_body_growing_past_the_limit_is_413_at_the_chunk_that_passes_it() -> None:
    limits = RequestLimits(max_body_bytes=20)
    exact = [b'{"name": ', b'"Adaline"}']  # 19 bytes, then 20 with the space
    assert (await read_input(_streamed([exact[0], b" " + exact[1]], limits=limits), Person)).name
    with pytest.raises(BodyTooLarge) as caught:
        await read_input(_streamed([b'{"name": ', b'"Adalines"}', b" "], limits=limits), Person)
    assert caught.value.errors[0]["msg"] == "request body is larger than 20 bytes"


@pytest.mark.anyio
async def test_a_client_leaving_mid_body_is_client_disconnected() -> None:
    request = _streamed([b'{"name": '], then={"type": "http.disconnect"})
    with pytest.raises(ClientDisconnected):
        await read_input(request, Person)


@pytest.mark.anyio
async def test_a_body_not_finished_within_the_timeout_is_408() -> None:
    request = _streamed(
        [b'{"name": '],
        then={"type": "http.request", "body": b'"A', "more_body": True},
        limits=RequestLimits(body_timeout=0.05),
    )
    with pytest.raises(BodyTimeout) as caught:
        await read_input(request, Person)
    assert caught.value.status_code == 408
    assert caught.value.errors[0]["msg"] == "request body not received within 0.05 s"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        (b"application/json; charset=utf-8", True),
        (b"Application/JSON", True),
        (b" application/json ;x=1", True),
        (b"application/problem+json", True),
        (b"application/+json", False),
        (b"application/jsonx", False),
        (b"application/json+xml", False),
        (b"text/json", False),
        (b"text/plain", False),
        (b"json", False),
        (None, False),
    ],
)
async def test_only_json_media_types_are_read(content_type: bytes | None, accepted: bool) -> None:
    request = _request(b'{"name": "Ada"}', content_type)
    if accepted:
        assert (await read_input(request, Person)).name == "Ada"
    else:
        with pytest.raises(UnsupportedMediaType):
            await read_input(request, Person)


@pytest.mark.anyio
async def test_past_the_limit_the_first_errors_are_listed_and_the_rest_counted() -> None:
    class Many(BaseModel):
        items: list[int]

    limits = RequestLimits(max_validation_errors=2)
    body = orjson.dumps({"items": ["a", "b", "c", "d"]})
    with pytest.raises(InputValidationError) as caught:
        await read_input(_streamed([body], limits=limits), Many)
    assert caught.value.errors == [
        {"type": "int_parsing", "loc": ["body", "items", 0], "msg": ANY_INT_MSG},
        {"type": "int_parsing", "loc": ["body", "items", 1], "msg": ANY_INT_MSG},
        {"type": "too_many_errors", "loc": ["body"], "msg": "2 more errors not shown"},
    ]
    limits = RequestLimits(max_validation_errors=3)
    with pytest.raises(InputValidationError) as caught:
        await read_input(_streamed([body], limits=limits), Many)
    assert caught.value.errors[-1]["msg"] == "1 more error not shown"
    assert [e["loc"] for e in caught.value.errors[:3]] == [["body", "items", n] for n in range(3)]


def test_request_limits_come_from_the_settings() -> None:
    limits = RequestLimits.from_settings(
        Settings(max_body_bytes=123, body_timeout=4.5, max_validation_errors=6)
    )
    assert (limits.max_body_bytes, limits.body_timeout, limits.max_validation_errors) == (
        123,
        4.5,
        6,
    )
    default = RequestLimits()
    assert (default.max_body_bytes, default.body_timeout, default.max_validation_errors) == (
        1024 * 1024,
        30.0,
        20,
    )


def _with_headers(headers: list[tuple[bytes, bytes]], messages: list[dict[str, Any]]) -> Request:
    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    app = SimpleNamespace(**{LIMITS_ATTRIBUTE: RequestLimits(max_body_bytes=20)})
    scope = {"type": "http", "method": "POST", "headers": headers, "app": app}
    return Request(scope, receive)


@pytest.mark.anyio
async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read() -> None:
    body = b'{"name": "Adaline"} '  # 20 bytes: exactly the limit
    json_type = (b"content-type", b"application/json")
    exact = _with_headers(
        [json_type, (b"content-length", b"20")], [{"type": "http.request", "body": body}]
    )
    assert (await read_input(exact, Person)).name == "Adaline"
    unread: list[dict[str, Any]] = [{"type": "http.request", "body": b"{}"}]
    over = _with_headers([json_type, (b"content-length", b"21")], unread)
    with pytest.raises(BodyTooLarge) as caught:
        await read_input(over, Person)
    assert caught.value.errors[0]["msg"] == "request body is larger than 20 bytes"
    assert len(unread) == 1  # refused on the header alone


@pytest.mark.anyio
async def test_a_body_of_exactly_the_limit_in_one_message_is_read() -> None:
    limits = RequestLimits(max_body_bytes=20)
    assert (await read_input(_streamed([b'{"name": "Adaline"} '], limits=limits), Person)).name
    with pytest.raises(BodyTooLarge) as caught:
        await read_input(_streamed([b'{"name": "Adalines"} '], limits=limits), Person)
    assert caught.value.errors[0]["msg"] == "request body is larger than 20 bytes"


@pytest.mark.anyio
async def test_messages_without_body_or_more_body_keys_read_as_empty_and_last() -> None:
    # ASGI lets a server leave out "body" (empty) and "more_body" (false).
    json_type = (b"content-type", b"application/json")
    whole = _with_headers([json_type], [{"type": "http.request", "body": b'{"name": "Ada"}'}])
    assert (await read_input(whole, Person)).name == "Ada"
    parts: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"name": ', "more_body": True},
        {"type": "http.request", "more_body": True},
        {"type": "http.request", "body": b'"Ada"}'},
    ]
    assert (await read_input(_with_headers([json_type], parts), Person)).name == "Ada"
    empty = _with_headers([json_type], [{"type": "http.request"}])
    with pytest.raises(InputValidationError, match="invalid input"):
        await read_input(empty, Person)


@pytest.mark.anyio
async def test_the_request_receive_is_kept_for_http_call() -> None:
    request = _request(b'{"name": "Ada"}')
    await read_input(request, Person)
    assert request_receive() is request.receive


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type", [b"application/json; charset=utf-8; q=1", b"application/x+json"]
)
async def test_json_with_several_parameters_or_a_short_json_suffix_is_read(
    content_type: bytes,
) -> None:
    assert (await read_input(_request(b'{"name": "Ada"}', content_type), Person)).name == "Ada"


def test_models_are_written_as_json_by_their_aliases() -> None:
    class Wait(BaseModel):
        model_config = ConfigDict(populate_by_name=True)
        wait_for: timedelta = Field(alias="waitFor")

    assert dumps(Wait(waitFor=timedelta(seconds=90))) == b'{"waitFor":"PT1M30S"}'
    # The same through the slow path (an integer beyond 64 bits elsewhere in the value).
    both = dumps({"n": 2**70, "w": Wait(waitFor=timedelta(seconds=1)), "d": Decimal("1.5")})
    assert orjson.loads(both) == {"n": 2**70, "w": {"waitFor": "PT1S"}, "d": 1.5}
