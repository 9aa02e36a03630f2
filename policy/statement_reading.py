"""Reading Steward's statement trees: what a statement is and what it names.

The executor, the audit log and the route requirements read trees from
:func:`policy.dialect.parse_statement` through these functions, never through sqlglot's
``args``, so the shape of a tree is known in this module and the grammar beside it.

``securable_of(node) -> tuple[str, list[str]]``
    Kind in SQL spelling (one of ``SECURABLE_KINDS``: ``"METASTORE"``, ``"CATALOG"``,
    ``"SCHEMA"``, ``"TABLE"``, ``"MODEL"``, ``"FUNCTION"``, ``"SERVING ENDPOINT"``) and the
    name parts as written (case preserved, unquoted; ``[]`` for METASTORE). Works on GRANT,
    REVOKE, SHOW GRANTS, ALTER … OWNER, CREATE CATALOG|SCHEMA|TABLE, DROP, DESCRIBE,
    COMMENT ON, and INSERT / MERGE (the table written). Names may be partial (``SCHEMA s``,
    ``TABLE t``): the executor qualifies them with the request's default catalog and
    schema, and lower-cases them.
``securable_type(kind: str) -> SecurableType``
    Maps a kind to ``policy.securables.SecurableType`` (FUNCTION → MODEL).
``privileges_of(node) -> list[str]``
    GRANT/REVOKE privileges, upper-case, words single-spaced (``"USE CATALOG"``,
    ``"ALL PRIVILEGES"``); always members of ``policy.securables.Privilege``.
``principals_of(node) -> list[str]``
    GRANT/REVOKE principals as written.
``principal_of(node) -> str | None``
    SHOW GRANTS (``None`` when no principal was named) and ALTER … OWNER TO (never None).
``group_of(node) -> str``, ``member_of(node) -> tuple[str, str]``, ``action_of(node) -> str``
    Group statements: the group; the member as (``"USER"|"GROUP"``, name); ``"ADD"|"REMOVE"``.
``scope_of(node) -> list[str] | None``
    SHOW SCHEMAS|TABLES|MODELS: the ``IN`` container's name parts, ``None`` when absent.
``if_not_exists(node) -> bool``, ``if_exists(node) -> bool``, ``cascade_of(node) -> bool``
    CREATE … IF NOT EXISTS; DROP … IF EXISTS; DROP CATALOG|SCHEMA … CASCADE.
``comment_of(node) -> str | None``
    CREATE … COMMENT and COMMENT ON … IS (``None``: no comment / ``IS NULL``). Raises
    ``ParameterError`` if the value is a still-unbound ``:parameter``.
``columns_of(node) -> list[ColumnSpec]``, ``primary_key_of(node) -> PrimaryKeySpec | None``
    CREATE TABLE columns (name, type_text, nullable, comment, data_type) and key.
``tables_of(node) -> list[list[str]]``
    SELECT: name parts of the tables read (own CTEs excluded), sorted; ``ValueError`` if
    the query reads a table-valued function, so authorization fails closed.
``statement_kind(node) -> StatementKind``
    What a tree is, as a ``StrEnum`` (``"GRANT"``, ``"SHOW TABLES"``, ``"SELECT"`` …), so the
    executor dispatches on one value instead of on classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlglot import exp

from policy.dialect import to_sql
from policy.parameters import ParameterError
from policy.securables import SecurableType
from policy.statements import (
    CATALOG,
    FUNCTION,
    METASTORE,
    MODEL,
    SCHEMA,
    SERVING_ENDPOINT,
    TABLE,
    VIEW,
    AlterAddColumns,
    AlterColumnMask,
    AlterGroupMembers,
    AlterModelAlias,
    AlterOwner,
    AlterRowFilter,
    AlterTableProperties,
    AlterTags,
    ColumnMaskClause,
    CreateFunction,
    CreateGroup,
    CreatePolicy,
    DropGroup,
    DropPolicy,
    RowFilterClause,
    ShowGrants,
    ShowObjects,
    ShowPolicies,
    ShowPrincipals,
    UseNamespace,
)


class StatementKind(StrEnum):
    """One value per statement form, for dispatch, audit action names and requirements."""

    GRANT = "GRANT"
    REVOKE = "REVOKE"
    SHOW_GRANTS = "SHOW GRANTS"
    SHOW_GRANTS_TO = "SHOW GRANTS TO"
    ALTER_OWNER = "ALTER OWNER"
    SET_ALIAS = "SET ALIAS"
    DROP_ALIAS = "DROP ALIAS"
    CREATE_CATALOG = "CREATE CATALOG"
    CREATE_SCHEMA = "CREATE SCHEMA"
    CREATE_TABLE = "CREATE TABLE"
    DROP_CATALOG = "DROP CATALOG"
    DROP_SCHEMA = "DROP SCHEMA"
    DROP_TABLE = "DROP TABLE"
    DROP_MODEL = "DROP MODEL"
    SHOW_CATALOGS = "SHOW CATALOGS"
    SHOW_SCHEMAS = "SHOW SCHEMAS"
    SHOW_TABLES = "SHOW TABLES"
    SHOW_MODELS = "SHOW MODELS"
    DESCRIBE_TABLE = "DESCRIBE TABLE"
    DESCRIBE_MODEL = "DESCRIBE MODEL"
    DESCRIBE_CATALOG = "DESCRIBE CATALOG"
    DESCRIBE_SCHEMA = "DESCRIBE SCHEMA"
    COMMENT_ON = "COMMENT ON"
    CREATE_GROUP = "CREATE GROUP"
    DROP_GROUP = "DROP GROUP"
    ALTER_GROUP = "ALTER GROUP"
    SHOW_GROUPS = "SHOW GROUPS"
    SHOW_USERS = "SHOW USERS"
    SELECT = "SELECT"
    INSERT = "INSERT"
    MERGE = "MERGE"
    CREATE_FUNCTION = "CREATE FUNCTION"
    DROP_FUNCTION = "DROP FUNCTION"
    SHOW_FUNCTIONS = "SHOW FUNCTIONS"
    DESCRIBE_FUNCTION = "DESCRIBE FUNCTION"
    SET_ROW_FILTER = "SET ROW FILTER"
    DROP_ROW_FILTER = "DROP ROW FILTER"
    SET_COLUMN_MASK = "SET COLUMN MASK"
    DROP_COLUMN_MASK = "DROP COLUMN MASK"
    USE_CATALOG = "USE CATALOG"
    USE_SCHEMA = "USE SCHEMA"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CREATE_VIEW = "CREATE VIEW"
    DROP_VIEW = "DROP VIEW"
    ADD_COLUMNS = "ADD COLUMNS"
    SET_TBLPROPERTIES = "SET TBLPROPERTIES"
    UNSET_TBLPROPERTIES = "UNSET TBLPROPERTIES"
    SET_TAGS = "SET TAGS"
    UNSET_TAGS = "UNSET TAGS"
    CREATE_POLICY = "CREATE POLICY"
    DROP_POLICY = "DROP POLICY"
    SHOW_POLICIES = "SHOW POLICIES"


_FIXED_KINDS: dict[type[exp.Expression], StatementKind] = {
    exp.Grant: StatementKind.GRANT,
    exp.Revoke: StatementKind.REVOKE,
    AlterOwner: StatementKind.ALTER_OWNER,
    exp.Comment: StatementKind.COMMENT_ON,
    CreateGroup: StatementKind.CREATE_GROUP,
    DropGroup: StatementKind.DROP_GROUP,
    AlterGroupMembers: StatementKind.ALTER_GROUP,
    exp.Insert: StatementKind.INSERT,
    exp.Merge: StatementKind.MERGE,
    exp.Update: StatementKind.UPDATE,
    AlterAddColumns: StatementKind.ADD_COLUMNS,
    exp.Delete: StatementKind.DELETE,
    CreateFunction: StatementKind.CREATE_FUNCTION,
    CreatePolicy: StatementKind.CREATE_POLICY,
    DropPolicy: StatementKind.DROP_POLICY,
    ShowPolicies: StatementKind.SHOW_POLICIES,
}


def statement_kind(node: exp.Expression) -> StatementKind:
    """Which statement form a tree from ``parse_statement`` is."""
    fixed = _FIXED_KINDS.get(type(node))
    if fixed is not None:
        return fixed
    if isinstance(node, ShowGrants):
        to = node.args.get("securable") is None
        return StatementKind.SHOW_GRANTS_TO if to else StatementKind.SHOW_GRANTS
    if isinstance(node, AlterModelAlias):
        has_version = node.args.get("version") is not None
        return StatementKind.SET_ALIAS if has_version else StatementKind.DROP_ALIAS
    if isinstance(node, exp.Query):
        return StatementKind.SELECT
    if isinstance(node, AlterRowFilter):
        dropping = node.args.get("filter") is None
        return StatementKind.DROP_ROW_FILTER if dropping else StatementKind.SET_ROW_FILTER
    if isinstance(node, AlterColumnMask):
        dropping = node.args.get("mask") is None
        return StatementKind.DROP_COLUMN_MASK if dropping else StatementKind.SET_COLUMN_MASK
    if isinstance(node, UseNamespace):
        return StatementKind(f"USE {node.args['kind']}")
    if isinstance(node, AlterTableProperties):
        unset = node.args.get("unset")
        return StatementKind.UNSET_TBLPROPERTIES if unset else StatementKind.SET_TBLPROPERTIES
    if isinstance(node, AlterTags):
        return StatementKind.UNSET_TAGS if node.args.get("unset") else StatementKind.SET_TAGS
    prefixes: dict[type[exp.Expression], str] = {
        exp.Create: "CREATE",
        exp.Drop: "DROP",
        exp.Describe: "DESCRIBE",
        ShowObjects: "SHOW",
        ShowPrincipals: "SHOW",
    }
    prefix = prefixes.get(type(node))
    if prefix is None:
        raise TypeError(f"not a Steward statement: {type(node).__name__}")
    return StatementKind(f"{prefix} {str(node.args['kind']).upper()}")


def _parts(table: exp.Expression | None) -> list[str]:
    if not isinstance(table, exp.Table):
        return []
    return [part.name for part in table.parts]


def securable_of(node: exp.Expression) -> tuple[str, list[str]]:
    """The object a statement is about: (kind in SQL spelling, name parts as written)."""
    if isinstance(node, exp.Grant | exp.Revoke | ShowGrants):
        securable = node.args.get("securable")
        if securable is None:
            raise TypeError("SHOW GRANTS TO a principal names no securable")
    elif isinstance(
        node,
        AlterOwner
        | AlterModelAlias
        | AlterRowFilter
        | AlterColumnMask
        | AlterTags
        | AlterAddColumns
        | AlterTableProperties,
    ):
        securable = node.this
    elif isinstance(node, CreatePolicy | DropPolicy | ShowPolicies):
        securable = node.args["on"]
    elif isinstance(node, CreateFunction):
        return FUNCTION, _parts(node.this)
    elif isinstance(node, UseNamespace):
        return str(node.args["kind"]), _parts(node.this)
    elif isinstance(node, exp.Create) and not isinstance(node.this, exp.Schema):
        kind = str(node.args["kind"]).upper()
        return (TABLE if kind == VIEW else kind), _parts(node.this)
    elif isinstance(node, exp.Create):
        return str(node.args["kind"]).upper(), _parts(node.this.this)
    elif isinstance(node, exp.Drop):
        kind = str(node.args["kind"]).upper()
        return (TABLE if kind == VIEW else kind), _parts(node.args["tables"][0])
    elif isinstance(node, exp.Describe | exp.Comment):
        return str(node.args["kind"]).upper(), _parts(node.this)
    elif isinstance(node, exp.Insert):  # the table written
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        return TABLE, _parts(target)
    elif isinstance(node, exp.Merge | exp.Update | exp.Delete):
        return TABLE, _parts(node.this)
    else:
        raise TypeError(f"{type(node).__name__} names no securable")
    return str(securable.args["kind"]).upper(), _parts(securable.this)


_KIND_TO_TYPE: dict[str, SecurableType] = {
    METASTORE: SecurableType.METASTORE,
    CATALOG: SecurableType.CATALOG,
    SCHEMA: SecurableType.SCHEMA,
    TABLE: SecurableType.TABLE,
    MODEL: SecurableType.MODEL,
    FUNCTION: SecurableType.FUNCTION,
    SERVING_ENDPOINT: SecurableType.SERVING_ENDPOINT,
}


def securable_type(kind: str) -> SecurableType:
    """Map a kind from ``securable_of`` to the authorization vocabulary. FUNCTION maps to
    FUNCTION; it also names a model where no function of that name exists (the executor
    decides, as it knows what exists)."""
    return _KIND_TO_TYPE[kind.upper()]


def privileges_of(node: exp.Grant | exp.Revoke) -> list[str]:
    """GRANT/REVOKE privileges, e.g. ``["USE CATALOG", "SELECT"]``."""
    return [privilege.this.name for privilege in node.args["privileges"]]


def principals_of(node: exp.Grant | exp.Revoke) -> list[str]:
    """GRANT/REVOKE principals, case preserved."""
    return [principal.this.name for principal in node.args["principals"]]


def alias_of(node: AlterModelAlias) -> tuple[str, int | None]:
    """The alias a SET/DROP ALIAS names, and the version SET ALIAS points it at."""
    alias = node.args["alias"].name
    version = node.args.get("version")
    if version is None:
        return alias, None
    if isinstance(version, exp.Placeholder):
        raise ParameterError(f"parameter :{version.name} has no value; bind it first")
    if isinstance(version, exp.Literal) and not version.is_string and version.this.isdigit():
        return alias, int(version.this)
    raise ParameterError(f"a model version is a positive whole number, not {to_sql(version)}")


def principal_of(node: ShowGrants | AlterOwner) -> str | None:
    """SHOW GRANTS' optional principal, or the new owner of ALTER … OWNER TO."""
    if isinstance(node, ShowGrants):
        principal = node.this
        return principal.name if principal else None
    if isinstance(node, AlterOwner):
        return node.args["principal"].name
    raise TypeError(f"{type(node).__name__} names no single principal")


def group_of(node: CreateGroup | DropGroup | AlterGroupMembers) -> str:
    """The group a group statement creates, drops or changes."""
    if not isinstance(node, CreateGroup | DropGroup | AlterGroupMembers):
        raise TypeError(f"{type(node).__name__} is not a group statement")
    return node.this.name


def member_of(node: AlterGroupMembers) -> tuple[str, str]:
    """(``"USER"`` or ``"GROUP"``, member name) of ALTER GROUP … ADD|REMOVE."""
    return str(node.args["kind"]), node.args["member"].name


def action_of(node: AlterGroupMembers) -> str:
    """``"ADD"`` or ``"REMOVE"``."""
    return str(node.args["action"])


def scope_of(node: ShowObjects) -> list[str] | None:
    """The ``IN`` container of SHOW SCHEMAS|TABLES|MODELS, or ``None`` for the default."""
    scope = node.this
    return _parts(scope) if scope is not None else None


def is_extended(node: exp.Describe) -> bool:
    """DESCRIBE TABLE|FUNCTION EXTENDED."""
    return isinstance(node, exp.Describe) and node.args.get("style") == "EXTENDED"


def if_not_exists(node: exp.Create | CreateFunction) -> bool:
    return bool(node.args.get("exists"))


def if_exists(node: exp.Drop | DropPolicy) -> bool:
    return bool(node.args.get("exists"))


def cascade_of(node: exp.Drop) -> bool:
    return bool(node.args.get("cascade"))


def _text_value(value: exp.Expression | None) -> str | None:
    if value is None or isinstance(value, exp.Null):
        return None
    if isinstance(value, exp.Placeholder):
        raise ParameterError(f"parameter :{value.name} has no value; bind it first")
    if isinstance(value, exp.Literal) and value.is_string:
        return value.this
    raise ParameterError(f"expected a string value, got {to_sql(value)}")


def comment_of(node: exp.Create | exp.Comment | CreateFunction | CreatePolicy) -> str | None:
    """The comment CREATE … COMMENT sets or COMMENT ON … IS sets (``None``: none / NULL)."""
    if isinstance(node, exp.Comment):
        return _text_value(node.expression)
    if isinstance(node, CreateFunction | CreatePolicy):
        return _text_value(node.args.get("comment"))
    properties = node.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.SchemaCommentProperty):
            return _text_value(prop.this)
    return None


@dataclass(frozen=True)
class PolicyFunctionSpec:
    """A row filter or column mask as written: the function's name parts and the
    columns passed to it (for a mask: the ``USING COLUMNS``, after the masked one)."""

    function: tuple[str, ...]
    columns: tuple[str, ...]


def _policy_spec(clause: RowFilterClause | ColumnMaskClause | None) -> PolicyFunctionSpec | None:
    if clause is None:
        return None
    return PolicyFunctionSpec(
        tuple(_parts(clause.this)), tuple(column.name for column in clause.expressions)
    )


@dataclass(frozen=True)
class ColumnSpec:
    """One CREATE TABLE column, in the terms the catalog stores."""

    name: str
    type_text: str
    nullable: bool
    comment: str | None
    data_type: exp.DataType = field(compare=False, repr=False)
    mask: PolicyFunctionSpec | None = None


@dataclass(frozen=True)
class PrimaryKeySpec:
    """A feature table's key: its columns in order, and which one (if any) is TIMESERIES."""

    name: str
    columns: tuple[str, ...]
    timeseries: str | None


def _table_schema(node: exp.Create) -> exp.Schema:
    """The column list of CREATE TABLE; an empty one for CREATE TABLE … AS SELECT (its
    columns are the query's)."""
    if isinstance(node, exp.Create) and isinstance(node.args.get("expression"), exp.Query):
        return exp.Schema(expressions=[])
    if not (isinstance(node, exp.Create) and isinstance(node.this, exp.Schema)):
        raise TypeError("expected a CREATE TABLE tree with columns")
    return node.this


def columns_of(node: exp.Create | AlterAddColumns) -> list[ColumnSpec]:
    """Columns of CREATE TABLE (or ALTER TABLE … ADD COLUMNS) in order; ``type_text`` is
    canonical SQL (``DECIMAL(10, 2)``)."""
    elements = (
        node.expressions if isinstance(node, AlterAddColumns) else _table_schema(node).expressions
    )
    columns = []
    for element in elements:
        if not isinstance(element, exp.ColumnDef):
            continue
        nullable, comment, mask = True, None, None
        for constraint in element.args.get("constraints") or []:
            if isinstance(constraint.kind, exp.NotNullColumnConstraint):
                nullable = False
            elif isinstance(constraint.kind, exp.CommentColumnConstraint):
                comment = _text_value(constraint.kind.this)
            elif isinstance(constraint.kind, ColumnMaskClause):
                mask = _policy_spec(constraint.kind)
        data_type = element.args["kind"]
        columns.append(
            ColumnSpec(
                name=element.name,
                type_text=to_sql(data_type),
                nullable=nullable,
                comment=comment,
                data_type=data_type,
                mask=mask,
            )
        )
    return columns


def row_filter_of(node: exp.Create | AlterRowFilter) -> PolicyFunctionSpec | None:
    """The row filter CREATE TABLE … WITH ROW FILTER or ALTER TABLE … SET ROW FILTER sets
    (None: none, or DROP ROW FILTER)."""
    if isinstance(node, AlterRowFilter):
        return _policy_spec(node.args.get("filter"))
    if isinstance(node, exp.Create):
        return _policy_spec(node.args.get("row_filter"))
    raise TypeError(f"{type(node).__name__} sets no row filter")


def column_mask_of(node: AlterColumnMask) -> tuple[str, PolicyFunctionSpec | None]:
    """The column ALTER COLUMN … SET|DROP MASK changes, and the mask it sets (None: DROP)."""
    if not isinstance(node, AlterColumnMask):
        raise TypeError(f"{type(node).__name__} sets no column mask")
    return node.args["column"].name, _policy_spec(node.args.get("mask"))


@dataclass(frozen=True)
class FunctionSpec:
    """CREATE FUNCTION as the catalog stores it: parameters as (name, canonical type),
    the declared return type (None: inferred), and the body as a tree."""

    parameters: tuple[tuple[str, str], ...]
    returns: str | None
    body: exp.Expression = field(compare=False, repr=False)
    replace: bool = False


def function_of(node: CreateFunction) -> FunctionSpec:
    """What CREATE FUNCTION defines (its name and comment: ``securable_of``, ``comment_of``)."""
    if not isinstance(node, CreateFunction):
        raise TypeError(f"{type(node).__name__} defines no function")
    returns = node.args.get("returns")
    return FunctionSpec(
        parameters=tuple(
            (param.name, to_sql(param.args["kind"])) for param in node.args.get("params") or []
        ),
        returns=to_sql(returns) if returns is not None else None,
        body=node.args["body"],
        replace=bool(node.args.get("replace")),
    )


def primary_key_of(node: exp.Create) -> PrimaryKeySpec | None:
    """The PRIMARY KEY constraint of CREATE TABLE, or ``None`` for a plain table."""
    for element in _table_schema(node).expressions:
        if not isinstance(element, exp.Constraint):
            continue
        key = element.expressions[0]
        names: list[str] = []
        timeseries = None
        for part in key.expressions:
            if isinstance(part, exp.TimeseriesKey):
                timeseries = part.this.name
                names.append(timeseries)
            else:
                names.append(part.name)
        return PrimaryKeySpec(name=element.name, columns=tuple(names), timeseries=timeseries)
    return None


def tables_of(node: exp.Expression) -> list[list[str]]:
    """Name parts of every table a SELECT reads, sorted, without duplicates.

    References to the query's own CTEs are left out; what remains is what authorization
    must check (USE CATALOG + USE SCHEMA + SELECT on each). A table-valued function
    (``read_files(…)``, ``range(…)``) reads something that is not a catalog table, so this
    fails closed with ``ValueError`` rather than leave it unchecked.
    """
    ctes = {cte.alias_or_name.lower() for cte in node.find_all(exp.CTE)}
    tables: set[tuple[str, ...]] = set()
    for table in node.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier | exp.Dot):
            raise ValueError(f"query reads from a table function: {to_sql(table.this)}")
        parts = tuple(part.name for part in table.parts)
        if len(parts) == 1 and parts[0].lower() in ctes:
            continue
        tables.add(parts)
    return [list(parts) for parts in sorted(tables)]


def tags_of(node: AlterTags) -> tuple[str | None, dict[str, str | None]]:
    """What a tag statement changes: the column (None: the object itself) and the tags, key
    → value (None: a key-only tag, and every key of UNSET)."""
    if not isinstance(node, AlterTags):
        raise TypeError(f"{type(node).__name__} changes no tags")
    column = node.args.get("column")
    tags: dict[str, str | None] = {}
    for tag in node.expressions:
        value = tag.args.get("expression")
        tags[tag.this.name] = None if value is None else value.name
    return (column.name if column is not None else None), tags


@dataclass(frozen=True)
class PolicySpec:
    """CREATE POLICY as the catalog stores it. Conditions stay canonical SQL text (they are
    read by :mod:`catalog.row_access.tag_conditions`); ``using`` holds match aliases as
    names and literals as canonical SQL (``'US'``, ``3``), told apart by ``using_literal``."""

    name: str
    kind: str
    function: tuple[str, ...]
    to: tuple[str, ...]
    except_: tuple[str, ...]
    when: str | None
    match: tuple[tuple[str, str], ...]
    on_column: str | None
    using: tuple[str, ...]
    using_literal: tuple[bool, ...]
    replace: bool


def policy_of(node: CreatePolicy) -> PolicySpec:
    if not isinstance(node, CreatePolicy):
        raise TypeError(f"{type(node).__name__} defines no policy")
    when = node.args.get("when")
    on_column = node.args.get("on_column")
    using = node.args.get("using") or []
    return PolicySpec(
        name=node.this.name,
        kind=str(node.args["kind"]),
        function=tuple(_parts(node.args["function"])),
        to=tuple(p.name for p in node.args["to"]),
        except_=tuple(p.name for p in node.args.get("except_") or []),
        when=None if when is None else to_sql(when),
        match=tuple((to_sql(m.this), m.args["alias"].name) for m in node.args.get("match") or []),
        on_column=on_column.name if on_column is not None else None,
        using=tuple(u.name if isinstance(u, exp.Identifier) else to_sql(u) for u in using),
        using_literal=tuple(not isinstance(u, exp.Identifier) for u in using),
        replace=bool(node.args.get("replace")),
    )


def policy_name_of(node: CreatePolicy | DropPolicy) -> str:
    return node.this.name


def query_of(node: exp.Create) -> exp.Query | None:
    """The query of CREATE TABLE … AS SELECT and CREATE VIEW … AS SELECT (None: a table
    defined by its columns)."""
    if not isinstance(node, exp.Create):
        raise TypeError(f"{type(node).__name__} defines no table or view")
    query = node.args.get("expression")
    return query if isinstance(query, exp.Query) else None


def or_replace(node: exp.Create) -> bool:
    """CREATE OR REPLACE TABLE | VIEW."""
    return bool(node.args.get("replace"))


def properties_of(node: AlterTableProperties) -> dict[str, str | None]:
    """SET TBLPROPERTIES: key → value; UNSET TBLPROPERTIES: key → None."""
    if not isinstance(node, AlterTableProperties):
        raise TypeError(f"{type(node).__name__} changes no table properties")
    found: dict[str, str | None] = {}
    for item in node.expressions:
        value = item.args.get("value")
        found[item.this.name] = None if value is None else value.name
    return found
