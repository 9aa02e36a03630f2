"""registry: the names a serving endpoint keeps, in their one spelling

Catalog migration c0008 folds every stored securable name (NFKC, lower-case; docs/api.md,
names). A serving endpoint keeps names of its own in JSON text: its served entities'
names and models, its inference table's catalog, schema and prefix (``config``), and
the feature tables SELECT was checked on (``checked_tables``, compared at every
invocation with the folded name of each lookup's table). Folded here the same way, or an
endpoint created before would look its model up under the old spelling and refuse its
own feature tables.

Model version dependencies are folded where they are read; aliases are ASCII by rule;
``created_by``/``updated_by`` stamps are history and stay as written (see c0008). Two
served entities of one endpoint whose names fold to one stop the upgrade, naming both,
having changed nothing, as c0008 does for securables.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-10
"""

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from common.text import fold_identifier, shown

revision: str = "r0005"
down_revision: str | None = "r0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "c0008"

serving_endpoints = sa.table(
    "serving_endpoints",
    sa.column("securable_id", sa.String),
    sa.column("config", sa.Text),
    sa.column("checked_tables", sa.Text),
)
securables = sa.table("securables", sa.column("id", sa.String), sa.column("full_name", sa.String))


class NameCollision(RuntimeError):
    """Served entity names of one endpoint that fold to one: nothing was changed."""


def fold_full_name(full_name: str) -> str:
    return ".".join(fold_identifier(part) for part in full_name.split("."))


def upgrade() -> None:
    bind = op.get_bind()
    changes: list[dict[str, Any]] = []
    problems: list[str] = []
    rows = bind.execute(
        sa.select(serving_endpoints, securables.c.full_name).join(
            securables, securables.c.id == serving_endpoints.c.securable_id
        )
    ).all()
    for row in rows:
        config = orjson.loads(row.config)
        folded_config = _fold_config(config, row.full_name, problems)
        checked = orjson.loads(row.checked_tables or "[]")
        folded_checked = sorted({fold_full_name(name) for name in checked})
        if folded_config != config or folded_checked != checked:
            changes.append(
                {
                    "row_id": row.securable_id,
                    "new_config": orjson.dumps(folded_config).decode(),
                    "new_checked": orjson.dumps(folded_checked).decode(),
                }
            )
    if problems:
        raise NameCollision(
            "migration r0005 stopped and changed nothing: served entity names are now "
            "compared in one spelling (NFKC, lower-case; docs/api.md, names), and these "
            "would merge:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nUpdate the endpoint's config with the version you are upgrading from so "
            "each entity has its own name, then start the server again."
        )
    if changes:
        bind.execute(
            serving_endpoints.update()
            .where(serving_endpoints.c.securable_id == sa.bindparam("row_id"))
            .values(config=sa.bindparam("new_config"), checked_tables=sa.bindparam("new_checked")),
            changes,
        )


def downgrade() -> None:
    """Nothing to undo: folded names are valid names under the old rules too."""


def _fold_config(config: dict[str, Any], endpoint: str, problems: list[str]) -> dict[str, Any]:
    """``config`` (``EndpointConfig.to_json``'s shape) with its names folded."""
    entities = []
    seen: dict[str, str] = {}
    for entity in config.get("served_entities") or []:
        name = fold_identifier(entity["name"])
        if name in seen and seen[name] != entity["name"]:
            problems.append(
                f"endpoint {shown(endpoint)}: served entities {shown(seen[name])} and "
                f"{shown(entity['name'])} would both be {shown(name)}"
            )
        seen[name] = entity["name"]
        entities.append(
            {**entity, "name": name, "entity_name": fold_full_name(entity["entity_name"])}
        )
    capture = config.get("auto_capture")
    if capture:
        capture = {
            **capture,
            **{
                key: fold_identifier(capture[key])
                for key in ("catalog_name", "schema_name", "table_name_prefix")
                if isinstance(capture.get(key), str)
            },
        }
    return {**config, "served_entities": entities, "auto_capture": capture}
