"""A hot endpoint's body validated without DRF's parser and serializer, when it is plainly valid.

DRF's JSON parser and a serializer take about a fifth of a send's CPU in the web process (docs/performance.md,
2026-12-07 evening). Nearly every request a client makes is a JSON object whose fields are plainly valid:
strings of the right length, true or false. `plain_input` answers those with the data the serializer would
have validated, derived from the serializer's own fields, and None for anything else — a body that is not
UTF-8 JSON, a missing or wrong field, a field type it does not know — which the caller then hands to DRF, so
that every error is still DRF's, word for word. tests/api/test_plain_input.py checks the two agree.
"""

import json
from collections.abc import Callable
from functools import cache

from django.core.exceptions import RequestDataTooBig
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.parsers import JSONParser

from .fields import StrictBooleanField, StrictCharField

_MISSING = object()


def plain_input(serializer_class: type[serializers.Serializer], request) -> dict | None:
    """The serializer's validated data for the DRF `request`'s JSON body, or None: let DRF parse and validate it."""
    django_request = request._request
    if django_request.content_type != "application/json" or django_request.content_params.get(
        "charset", "utf-8"
    ).lower() not in ("utf-8", "utf8"):
        return None
    if not isinstance(request.negotiator.select_parser(request, request.parsers), JSONParser):
        return None  # the parser DRF would choose is not JSON's (or there is none: a 415)
    try:
        data = json.loads(django_request.body.decode(), parse_constant=_refuse)
    except (RequestDataTooBig, ValueError, RecursionError):
        return None
    if type(data) is not dict:
        return None
    validated = {}
    for name, check, default in _plan(serializer_class):
        value = data.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                return None
            if default is not empty:
                validated[name] = default.get_default()  # per request: a default may be a callable
            continue
        value = check(value)
        if value is _MISSING:
            return None
        validated[name] = value
    return validated


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")  # as DRF's strict JSON parser refuses NaN and Infinity


@cache
def _plan(serializer_class: type[serializers.Serializer]) -> list[tuple[str, Callable, object]]:
    """Each field's name, its check (the value it validates to, or _MISSING), and what a missing field gives:
    the field (whose default it takes), `empty` (left out) or _MISSING (required). Made once per serializer; a
    serializer this cannot mirror is a programming error, found on its first request."""
    meta_validators = getattr(getattr(serializer_class, "Meta", None), "validators", None)
    if serializer_class.validate is not serializers.Serializer.validate or meta_validators:
        raise TypeError(f"{serializer_class.__name__}.validate is not mirrored by plain_input")
    plan = []
    for name, field in serializer_class().fields.items():
        if field.source != name or field.read_only or getattr(serializer_class, f"validate_{name}", None):
            raise TypeError(f"{serializer_class.__name__}.{name} is not mirrored by plain_input")
        if type(field) is StrictCharField:
            check = _char_check(field)
        elif type(field) is StrictBooleanField:
            check = _boolean_check(field)
        else:
            raise TypeError(f"{serializer_class.__name__}.{name} ({type(field).__name__}) is not mirrored")
        if field.required:
            default = _MISSING
        elif field.default is empty:
            default = empty
        else:
            default = field
        plan.append((name, check, default))
    return plan


def _char_check(field: StrictCharField) -> Callable:
    """CharField.run_validation for a string, null not allowed: blank, trimmed, then the field's own validators
    (its lengths, NUL and surrogates, any it was given)."""

    def check(value):
        if type(value) is not str:
            return _MISSING
        if field.trim_whitespace:
            value = value.strip()
        if value == "":
            return "" if field.allow_blank else _MISSING
        return _validated(field, value)

    return check


def _boolean_check(field: StrictBooleanField) -> Callable:
    def check(value):
        return _validated(field, value) if type(value) is bool else _MISSING

    return check


def _validated(field: serializers.Field, value):
    """`value` if the field's validators take it, as DRF runs them; else _MISSING."""
    try:
        field.run_validators(value)
    except serializers.ValidationError:
        return _MISSING
    return value
