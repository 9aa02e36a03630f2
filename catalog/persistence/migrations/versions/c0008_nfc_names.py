"""names: every stored name in its one spelling (identifiers NFKC + lower-case, others NFC)

From this revision every name is folded where it arrives (docs/api.md, names;
``common/text.py`` says why NFKC for identifiers and NFC for other systems' names), so a
name stored before in another spelling (``é`` decomposed, ``ｍａｉｎ`` fullwidth) would
no longer be found by the spelling lookups now fold to. This rewrites them:

* securables (catalogs, schemas, tables, models, serving endpoints): ``name`` and
  ``full_name``, folded part by part;
* principals: ``name``; and what refers to a principal to grant something, so follows it:
  securable and metastore ``owner`` and the grants (``casbin_rule`` ``p`` lines, ``v0``).
  Only names of principals that exist are rewritten there, by their exact old spelling;
* lineage nodes: the display names of catalog nodes (folded), and the namespace, name,
  path and key (a digest of namespace and name, as ``catalog/lineage/model.py`` computes
  it) of external datasets (NFC), so a new event about the same dataset finds its node.

Left as written, on purpose:

* the audit log: it is hash-chained; a rewritten event would break the chain (and it is
  the record of what was asked, as it was asked);
* stamps recording who did something (``created_by``, ``updated_by``, the principal of a
  lineage edge) and the job of an edge: history, like the audit log. Rewriting them by
  folding could attribute a deleted principal's work to a look-alike who still exists;
* column names (not folded where they arrive either) and free text (comments, display
  names);
* control characters already stored (in principal names, external datasets): the data
  stays; clients show it escaped (``steward`` writes ``\\r`` for a carriage return).

Two names that fold to one, or a name that folds into an invalid one (``a．b`` becomes
``a.b``; a no-break space becomes a space; over 255 characters), are **not** merged or
renamed: renaming moves what grants, SQL and jobs refer to, and merging would join two
objects' grants. The migration fails instead, having changed nothing (it runs in the
upgrade's transaction), and its message names every such name and says what to do:
rename or drop one of each with the version being upgraded from, then start again.
External lineage nodes are not names anyone addresses: when two fold to one, the one
already in the folded spelling (else the oldest) takes the key and the other is kept as
it was observed, with a warning in the log.

Downgrading keeps the folded names: they are valid names under the old rules too.

Revision ID: c0008
Revises: c0007
Create Date: 2026-12-10
"""

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op

from catalog.names import MAX_NAME_LENGTH, forbidden_character
from common.text import fold_external, fold_identifier, shown

revision: str = "c0008"
down_revision: str | None = "c0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

#: Rows read at a time from the tables that may be large (lineage nodes).
BATCH = 5000
#: How many problems the failure message lists before "and N more".
SHOWN_PROBLEMS = 25
EXTERNAL = "EXTERNAL"

securables = sa.table(
    "securables",
    sa.column("id", sa.String),
    sa.column("securable_type", sa.String),
    sa.column("name", sa.String),
    sa.column("full_name", sa.String),
    sa.column("owner", sa.String),
)
principals = sa.table("principals", sa.column("id", sa.String), sa.column("name", sa.String))
metastore = sa.table("metastore", sa.column("owner", sa.String))
casbin_rule = sa.table("casbin_rule", sa.column("ptype", sa.String), sa.column("v0", sa.String))
lineage_nodes = sa.table(
    "lineage_nodes",
    sa.column("id", sa.Integer),
    sa.column("node_type", sa.String),
    sa.column("node_key", sa.String),
    sa.column("full_name", sa.String),
    sa.column("catalog_name", sa.String),
    sa.column("schema_name", sa.String),
    sa.column("object_name", sa.String),
    sa.column("namespace", sa.Text),
    sa.column("external_name", sa.Text),
    sa.column("path", sa.Text),
)


class NameCollision(RuntimeError):
    """Stored names that fold to one name, or to an invalid one: nothing was changed."""


@dataclass
class Plan:
    """What the upgrade will write, and what stops it."""

    securables: list[dict[str, Any]] = field(default_factory=list)
    principals: dict[str, str] = field(default_factory=dict)  # old name -> new name
    principal_rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (depth, text)


def fold_full_name(full_name: str) -> str:
    """A dotted securable name folded part by part, as ``catalog.names`` stores it."""
    return ".".join(fold_identifier(part) for part in full_name.split("."))


def fold_principal(name: str) -> str:
    """A principal name as ``catalog.identity.normalize_principal_name`` stores it."""
    return fold_identifier(name).strip()


def external_key(namespace: str, name: str) -> str:
    """The node key of an external dataset (``catalog.lineage.model.external_node``)."""
    return "ext:" + hashlib.sha256(f"{namespace}\x00{name}".encode()).hexdigest()


def external_path(namespace: str, name: str) -> str:
    if not namespace:
        return name
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


def upgrade() -> None:
    bind = op.get_bind()
    plan = Plan()
    _plan_securables(bind, plan)
    _plan_principals(bind, plan)
    if plan.problems:
        raise NameCollision(_failure(plan.problems))
    _apply(bind, plan)
    _fold_lineage(bind)


def downgrade() -> None:
    """Nothing to undo: folded names are valid names under the old rules too."""


# -- planning ----------------------------------------------------------------------------


def _plan_securables(bind: sa.Connection, plan: Plan) -> None:
    rows = bind.execute(
        sa.select(securables.c.id, securables.c.securable_type, securables.c.full_name)
    ).all()
    by_folded: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        folded = fold_full_name(row.full_name)
        by_folded[folded].append((row.securable_type, row.full_name))
        if folded == row.full_name:
            continue
        what = f"{row.securable_type.lower()} {shown(row.full_name)}"
        depth = row.full_name.count(".")
        broken = _broken(row.full_name, folded)
        if broken:
            plan.problems.append((depth, f"{what} would become {shown(folded)}, {broken}"))
            continue
        plan.securables.append(
            {"row_id": row.id, "new_name": folded.split(".")[-1], "new_full_name": folded}
        )
    for folded, owners in by_folded.items():
        if len(owners) > 1:
            names = " and ".join(
                f"{kind.lower()} {shown(name)}" for kind, name in sorted(owners, key=str)
            )
            plan.problems.append((folded.count("."), f"{names} would both be {shown(folded)}"))


def _broken(full_name: str, folded: str) -> str | None:
    """Why a folded securable name is no valid name, or None."""
    old_parts, new_parts = full_name.split("."), folded.split(".")
    if len(new_parts) != len(old_parts):
        return "which has a '.' inside a name part"
    for part in new_parts:
        bad = forbidden_character(part)
        if bad is not None:
            return f"which holds {'a space' if bad.isspace() else repr(bad)} in a name part"
        if len(part) > MAX_NAME_LENGTH:
            return f"which has a part longer than {MAX_NAME_LENGTH} characters"
    return None


def _plan_principals(bind: sa.Connection, plan: Plan) -> None:
    rows = bind.execute(sa.select(principals.c.id, principals.c.name)).all()
    by_folded: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        folded = fold_principal(row.name)
        by_folded[folded].append(row.name)
        if folded == row.name:
            continue
        if not folded or len(folded) > MAX_NAME_LENGTH:
            plan.problems.append(
                (0, f"principal {shown(row.name)} would become {shown(folded)}, not a valid name")
            )
            continue
        plan.principals[row.name] = folded
        plan.principal_rows.append({"row_id": row.id, "new_name": folded})
    for folded, names in by_folded.items():
        if len(names) > 1:
            listed = " and ".join(f"principal {shown(name)}" for name in sorted(names))
            plan.problems.append((0, f"{listed} would both be {shown(folded)}"))


def _failure(problems: list[tuple[int, str]]) -> str:
    ordered = [text for _depth, text in sorted(problems)]
    lines = [f"  - {text}" for text in ordered[:SHOWN_PROBLEMS]]
    if len(ordered) > SHOWN_PROBLEMS:
        lines.append(f"  … and {len(ordered) - SHOWN_PROBLEMS} more")
    return (
        "migration c0008 stopped and changed nothing: names are now compared in one "
        "spelling (NFKC, lower-case; docs/api.md, names), and these stored names would "
        "merge with another or stop being valid names:\n"
        + "\n".join(lines)
        + "\nRename or drop one of each with the version you are upgrading from (a "
        "securable: PATCH its route with new_name; a principal: delete it and create it "
        "again under another name), then start the server again."
    )


# -- writing -----------------------------------------------------------------------------


def _apply(bind: sa.Connection, plan: Plan) -> None:
    if plan.securables:
        bind.execute(
            securables.update()
            .where(securables.c.id == sa.bindparam("row_id"))
            .values(name=sa.bindparam("new_name"), full_name=sa.bindparam("new_full_name")),
            plan.securables,
        )
    if plan.principal_rows:
        bind.execute(
            principals.update()
            .where(principals.c.id == sa.bindparam("row_id"))
            .values(name=sa.bindparam("new_name")),
            plan.principal_rows,
        )
    for old, new in plan.principals.items():
        bind.execute(securables.update().where(securables.c.owner == old).values(owner=new))
        bind.execute(metastore.update().where(metastore.c.owner == old).values(owner=new))
        bind.execute(
            casbin_rule.update()
            .where(casbin_rule.c.ptype == "p", casbin_rule.c.v0 == old)
            .values(v0=new)
        )


def _fold_lineage(bind: sa.Connection) -> None:
    """Catalog nodes' display names folded; external nodes re-keyed (module docstring)."""
    names: list[dict[str, Any]] = []
    external: list[Any] = []
    for row in _rows(bind):
        if row.node_type == EXTERNAL:
            namespace, name = row.namespace or "", row.external_name or ""
            if not (namespace.isascii() and name.isascii()):
                external.append(row)
            continue
        values = {
            column: fold_full_name(getattr(row, column))
            for column in ("full_name", "catalog_name", "schema_name", "object_name")
            if getattr(row, column) is not None
        }
        if any(values[c] != getattr(row, c) for c in values):
            names.append({"row_id": row.id, **{f"new_{c}": v for c, v in values.items()}})
    for row in names:
        columns = [c.removeprefix("new_") for c in row if c != "row_id"]
        bind.execute(
            lineage_nodes.update()
            .where(lineage_nodes.c.id == row["row_id"])
            .values({c: row[f"new_{c}"] for c in columns})
        )
    _rekey_external(bind, external)


def _rekey_external(bind: sa.Connection, rows: list[Any]) -> None:
    # Already-folded rows first (they keep their key), then the oldest.
    rows = sorted(
        rows,
        key=lambda r: (
            external_key(fold_external(r.namespace or ""), fold_external(r.external_name or ""))
            != r.node_key,
            r.id,
        ),
    )
    for row in rows:
        namespace = fold_external(row.namespace or "")
        name = fold_external(row.external_name or "")
        key = external_key(namespace, name)
        if key == row.node_key:
            continue
        taken = bind.scalar(
            sa.select(lineage_nodes.c.id).where(
                lineage_nodes.c.node_type == EXTERNAL, lineage_nodes.c.node_key == key
            )
        )
        if taken is not None:
            log.warning(
                "c0008: lineage node %s (%s) is the dataset of node %s in another normal "
                "form; kept as it was observed, not merged",
                row.id,
                shown(external_path(row.namespace or "", row.external_name or "")),
                taken,
            )
            continue
        bind.execute(
            lineage_nodes.update()
            .where(lineage_nodes.c.id == row.id)
            .values(
                node_key=key,
                namespace=namespace,
                external_name=name,
                path=external_path(namespace, name),
            )
        )


def _rows(bind: sa.Connection) -> Iterator[Any]:
    """Every lineage node that may need rewriting (a name that is not plain ASCII or
    that folding changes), read by keyset batches: the table may be large."""
    after = -1
    columns = [
        lineage_nodes.c.id,
        lineage_nodes.c.node_type,
        lineage_nodes.c.node_key,
        lineage_nodes.c.full_name,
        lineage_nodes.c.catalog_name,
        lineage_nodes.c.schema_name,
        lineage_nodes.c.object_name,
        lineage_nodes.c.namespace,
        lineage_nodes.c.external_name,
    ]
    while True:
        batch = bind.execute(
            sa.select(*columns)
            .where(lineage_nodes.c.id > after)
            .order_by(lineage_nodes.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].id
