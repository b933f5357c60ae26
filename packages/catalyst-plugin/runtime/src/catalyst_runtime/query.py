"""Query parameters of GET and DELETE workflows: read, validated and described for OpenAPI.

A GET or DELETE workflow's ``input`` declares its query parameters (scalars, enums and lists
of them; the compiler refuses nested objects). ``read_query`` validates them with the same
generated model a body would use, but in lax mode, since every query value is text: ``?n=12``
is the integer 12 and ``?on=true`` (or ``1``, ``yes``, ``on``) a boolean, while ``?n=x``, a
non-finite number, an unknown parameter or a scalar given twice is a 422. A list parameter is
the parameter repeated: ``?tag=a&tag=b``.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .bodies import watch_without_body
from .errors import InputValidationError

__all__ = ["query_parameters", "read_query"]

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_QUERY_ERRORS: Final = 20
"""A 422 lists at most this many problems, then one entry saying how many more there were."""


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation))


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """The parameters of ``model`` that are lists, found once per model (a generated model is
    made once, at import)."""
    return frozenset(
        field.alias or name
        for name, field in model.model_fields.items()
        if _is_list(field.annotation)
    )


def read_query(request: Request, model: type[ModelT]) -> ModelT:
    """The request's query parameters as ``model``, or ``InputValidationError`` (422)."""
    params = request.query_params
    lists = _list_fields(model)
    data: dict[str, Any] = {}
    for key in params:
        values = params.getlist(key)
        data[key] = values if key in lists or len(values) > 1 else values[0]
    watch_without_body(request.receive)
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        found = exc.errors(include_url=False, include_context=False, include_input=False)
        errors: list[dict[str, Any]] = [
            {"type": e["type"], "loc": ["query", *e["loc"]], "msg": e["msg"]}
            for e in found[:MAX_QUERY_ERRORS]
        ]
        if len(found) > MAX_QUERY_ERRORS:
            errors.append(
                {
                    "type": "too_many_errors",
                    "loc": ["query"],
                    "msg": f"{len(found) - MAX_QUERY_ERRORS} more errors not shown",
                }
            )
        raise InputValidationError(errors) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose query ``read_query`` reads, so /docs shows each
    parameter with its type, whether it is required and its description."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return {"parameters": parameters}
