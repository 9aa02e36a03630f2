"""Serving endpoint tags: Databricks' ``EndpointTag`` (``key``, optional ``value``).

Tags are the endpoint owner's labels (team, cost centre …), kept with the endpoint and
answered by GET and list; they grant nothing and change no behaviour. Keys are unique per
endpoint and kept as written (case and all: they are labels, not names); order is the
order they were first added in. Limits are Steward's own, so a runaway client cannot
make an endpoint's answer arbitrarily large.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from common.errors import InvalidParameter

MAX_TAGS = 50
MAX_KEY = 255
MAX_VALUE = 255


@dataclass(frozen=True)
class EndpointTag:
    key: str
    value: str | None = None

    def as_json(self) -> dict[str, str]:
        return {"key": self.key} if self.value is None else {"key": self.key, "value": self.value}


def checked(tags: Iterable[EndpointTag], what: str) -> list[EndpointTag]:
    """``tags`` with each key given once, within the limits (control characters are refused
    where the request body is read)."""
    found: list[EndpointTag] = []
    seen: set[str] = set()
    for tag in tags:
        if not tag.key.strip():
            raise InvalidParameter(f"{what}: a tag key must not be empty")
        if len(tag.key) > MAX_KEY:
            raise InvalidParameter(
                f"{what}: tag key '{tag.key[:40]}…' is over {MAX_KEY} characters"
            )
        if tag.value is not None and len(tag.value) > MAX_VALUE:
            raise InvalidParameter(
                f"{what}: the value of tag '{tag.key}' is over {MAX_VALUE} characters"
            )
        if tag.key in seen:
            raise InvalidParameter(f"{what}: tag key '{tag.key}' is given twice")
        seen.add(tag.key)
        found.append(tag)
    return _within_limit(found)


def patched(
    current: Sequence[EndpointTag], add: Sequence[EndpointTag], delete: Sequence[str]
) -> list[EndpointTag]:
    """Databricks' tag patch: delete the keys, then add (an added key that exists takes the
    new value in its place). A key both added and deleted is ambiguous: refused. Deleting a
    key the endpoint does not have is no error (it is gone, as asked)."""
    adding = checked(add, "add_tags")
    both = sorted({t.key for t in adding} & set(delete))
    if both:
        raise InvalidParameter(f"tag '{both[0]}' is both in add_tags and in delete_tags")
    kept = [t for t in current if t.key not in set(delete)]
    new = {t.key: t for t in adding}
    result = [new.pop(t.key, t) for t in kept]
    result.extend(new.values())
    return _within_limit(result)


def _within_limit(tags: list[EndpointTag]) -> list[EndpointTag]:
    if len(tags) > MAX_TAGS:
        raise InvalidParameter(f"an endpoint has at most {MAX_TAGS} tags, not {len(tags)}")
    return tags


def to_json(tags: Sequence[EndpointTag]) -> str:
    return orjson.dumps([t.as_json() for t in tags]).decode()


def from_json(text: str | None) -> tuple[EndpointTag, ...]:
    return tuple(EndpointTag(t["key"], t.get("value")) for t in orjson.loads(text or "[]"))
