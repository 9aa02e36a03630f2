"""Rows of ``serving_endpoints``: one per SERVING_ENDPOINT securable.

Tags are written on their own (:meth:`EndpointStore.set_tags`): a config update rewrites
the config, never the tags, and a tag patch never the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.persistence import schema as t
from registry.serving import tags as endpoint_tags
from registry.serving.config import EndpointConfig
from registry.serving.tags import EndpointTag


@dataclass
class EndpointRow:
    securable_id: str
    config: EndpointConfig
    config_version: int
    checked_tables: frozenset[str]
    updated_at: int | None = None
    updated_by: str | None = None
    tags: tuple[EndpointTag, ...] = ()


class EndpointStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def insert(self, row: EndpointRow) -> None:
        self.session.add(
            t.ServingEndpoint(
                securable_id=row.securable_id,
                config=row.config.to_json(),
                config_version=row.config_version,
                checked_tables=orjson.dumps(sorted(row.checked_tables)).decode(),
                updated_at=row.updated_at,
                updated_by=row.updated_by,
                tags=endpoint_tags.to_json(row.tags),
            )
        )

    def get(self, securable_id: str) -> EndpointRow | None:
        found = self.session.execute(
            select(t.ServingEndpoint).where(t.ServingEndpoint.securable_id == securable_id)
        ).scalar_one_or_none()
        return _row(found) if found is not None else None

    def get_many(self, securable_ids: list[str]) -> dict[str, EndpointRow]:
        if not securable_ids:
            return {}
        rows = self.session.execute(
            select(t.ServingEndpoint).where(t.ServingEndpoint.securable_id.in_(securable_ids))
        ).scalars()
        return {r.securable_id: _row(r) for r in rows}

    def update(self, row: EndpointRow) -> None:
        self.session.execute(
            update(t.ServingEndpoint)
            .where(t.ServingEndpoint.securable_id == row.securable_id)
            .values(
                config=row.config.to_json(),
                config_version=row.config_version,
                checked_tables=orjson.dumps(sorted(row.checked_tables)).decode(),
                updated_at=row.updated_at,
                updated_by=row.updated_by,
            )
        )

    def set_tags(self, securable_id: str, tags: Sequence[EndpointTag]) -> None:
        self.session.execute(
            update(t.ServingEndpoint)
            .where(t.ServingEndpoint.securable_id == securable_id)
            .values(tags=endpoint_tags.to_json(tags))
        )


def _row(found: t.ServingEndpoint) -> EndpointRow:
    return EndpointRow(
        securable_id=found.securable_id,
        config=EndpointConfig.from_json(found.config),
        config_version=found.config_version,
        checked_tables=frozenset(orjson.loads(found.checked_tables or "[]")),
        updated_at=found.updated_at,
        updated_by=found.updated_by,
        tags=endpoint_tags.from_json(found.tags),
    )
