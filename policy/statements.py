"""Typed syntax-tree nodes for the Steward statements sqlglot has no expression for.

Left to itself sqlglot turns anything it does not know (``SHOW GRANTS``, ``ALTER … OWNER
TO``, ``CREATE GROUP``, …) into ``exp.Command``, a bag of raw text. The executor, the audit
log and the privilege checks need typed fields instead, so each such statement gets a small
``sqlglot.exp.Expression`` subclass here. Statements sqlglot already models well (GRANT,
REVOKE, CREATE, DROP, DESCRIBE, COMMENT, SELECT) keep sqlglot's own classes.

These classes carry data only; parsing and SQL generation live in ``policy.dialect``, and the
executor reads them through the accessor functions documented there rather than poking at
``args`` directly.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

#: Securable kinds as spelled in SQL, in hierarchy order. FUNCTION names a model, as on
#: Databricks; it stays FUNCTION in the tree so a round trip reproduces what was written.
METASTORE = "METASTORE"
CATALOG = "CATALOG"
SCHEMA = "SCHEMA"
TABLE = "TABLE"
MODEL = "MODEL"
FUNCTION = "FUNCTION"
SERVING_ENDPOINT = "SERVING ENDPOINT"
#: A view is a TABLE securable of type VIEW (its name is a table's).
VIEW = "VIEW"

#: Everything GRANT, REVOKE and SHOW GRANTS may name after ON.
SECURABLE_KINDS: tuple[str, ...] = (
    METASTORE,
    CATALOG,
    SCHEMA,
    TABLE,
    MODEL,
    FUNCTION,
    SERVING_ENDPOINT,
)

#: Kinds that name one object (ALTER … OWNER TO, COMMENT ON).
OBJECT_KINDS: tuple[str, ...] = (CATALOG, SCHEMA, TABLE, MODEL, FUNCTION, SERVING_ENDPOINT)

#: Most dotted name parts a kind takes. Fewer are allowed where a default catalog or schema
#: can fill in the front (the statement API's ``catalog``/``schema`` fields).
MAX_NAME_PARTS: dict[str, int] = {
    METASTORE: 0,
    CATALOG: 1,
    SCHEMA: 2,
    TABLE: 3,
    MODEL: 3,
    FUNCTION: 3,
    SERVING_ENDPOINT: 1,
}


class Securable(exp.Expression):
    """The object a grant, ownership change or SHOW GRANTS is about.

    ``kind`` is one of ``SECURABLE_KINDS`` (SQL spelling, e.g. ``"SERVING ENDPOINT"``);
    ``this`` is an ``exp.Table`` whose parts are the dotted name, absent for METASTORE.
    Kind and name travel together because the same dotted name means different objects
    under different kinds (``SCHEMA c.s`` versus ``TABLE c.s``).
    """

    arg_types: ClassVar[dict[str, bool]] = {"kind": True, "this": False}


class ShowGrants(exp.Expression):
    """``SHOW GRANTS [principal] ON securable``: ``this`` is the optional principal identifier;
    ``SHOW GRANTS [TO] principal`` (no ``securable``): every grant to the principal."""

    arg_types: ClassVar[dict[str, bool]] = {"this": False, "securable": False}


class AlterOwner(exp.Expression):
    """``ALTER <kind> name [SET] OWNER TO principal``: ``this`` is a ``Securable``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "principal": True}


class AlterModelAlias(exp.Expression):
    """``ALTER MODEL m SET ALIAS a = 3`` (``version`` set) or ``ALTER MODEL m DROP ALIAS a``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "alias": True, "version": False}


class CreateGroup(exp.Expression):
    """``CREATE GROUP g``: ``this`` is the group identifier."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True}


class DropGroup(exp.Expression):
    """``DROP GROUP g``: ``this`` is the group identifier."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True}


class AlterGroupMembers(exp.Expression):
    """``ALTER GROUP g ADD|REMOVE USER|GROUP member``.

    ``action`` is ``"ADD"`` or ``"REMOVE"``, ``kind`` is ``"USER"`` or ``"GROUP"`` (the
    member's kind, so nested groups are explicit rather than guessed from the name).
    """

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "action": True,
        "kind": True,
        "member": True,
    }


class ShowPrincipals(exp.Expression):
    """``SHOW USERS`` / ``SHOW GROUPS``: ``kind`` is ``"USERS"`` or ``"GROUPS"``."""

    arg_types: ClassVar[dict[str, bool]] = {"kind": True}


class ShowObjects(exp.Expression):
    """``SHOW CATALOGS|SCHEMAS|TABLES|MODELS|FUNCTIONS [IN container]``.

    ``kind`` is the plural keyword; ``this`` is the optional container as an ``exp.Table``
    (a catalog for SCHEMAS, a schema for TABLES, MODELS and FUNCTIONS).
    """

    arg_types: ClassVar[dict[str, bool]] = {"kind": True, "this": False}


class CreateFunction(exp.Expression):
    """``CREATE [OR REPLACE] FUNCTION [IF NOT EXISTS] name (p TYPE, …) [RETURNS TYPE]
    [COMMENT 'text'] RETURN expr``: a SQL function, Databricks' spelling.

    ``this`` is the name (``exp.Table``), ``params`` a list of ``exp.ColumnDef`` (name and
    type), ``returns`` the declared ``exp.DataType`` or None, ``body`` the expression,
    ``replace`` / ``exists`` the OR REPLACE and IF NOT EXISTS flags, ``comment`` a string
    literal or ``:parameter``.
    """

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "params": False,
        "returns": False,
        "body": True,
        "replace": False,
        "exists": False,
        "comment": False,
    }


class RowFilterClause(exp.Expression):
    """``ROW FILTER f ON (col, …)``: the function (``exp.Table``) and the columns
    (``exp.Identifier``) whose values it receives, in order."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expressions": False}


class ColumnMaskClause(exp.Expression):
    """``MASK f [USING COLUMNS (col, …)]`` on a column: the function, and the other
    columns passed after the masked one."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expressions": False}


class AlterRowFilter(exp.Expression):
    """``ALTER TABLE t SET ROW FILTER f ON (…)`` (``filter`` a ``RowFilterClause``) or
    ``ALTER TABLE t DROP ROW FILTER`` (no ``filter``); ``this`` is a ``Securable``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "filter": False}


class AlterColumnMask(exp.Expression):
    """``ALTER TABLE t ALTER COLUMN c SET MASK f [USING COLUMNS (…)]`` (``mask`` a
    ``ColumnMaskClause``) or ``… DROP MASK`` (no ``mask``); ``this`` is a ``Securable``,
    ``column`` the column's identifier."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "column": True, "mask": False}


class UseNamespace(exp.Expression):
    """``USE CATALOG c`` (``kind`` ``"CATALOG"``) or ``USE SCHEMA [c.]s`` / ``USE [c.]s``
    (``kind`` ``"SCHEMA"``); ``this`` is the name as an ``exp.Table``."""

    arg_types: ClassVar[dict[str, bool]] = {"kind": True, "this": True}


class TagAssignment(exp.Expression):
    """One tag of a tag statement: ``this`` the key, ``expression`` the value (absent for a
    key-only tag, and always in UNSET); both string literals."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expression": False}


class AlterTags(exp.Expression):
    """Setting or unsetting governed tags, in either of Databricks' spellings:
    ``SET TAG ON kind name key [= value]`` / ``UNSET TAG ON kind name key`` (``single``)
    and ``ALTER kind name [ALTER COLUMN c] SET TAGS ('k' = 'v', …)`` / ``UNSET TAGS ('k',
    …)``. ``this`` is a ``Securable`` (a column's is its table), ``column`` the column's
    identifier, ``expressions`` the ``TagAssignment`` list, ``unset`` the direction."""

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "column": False,
        "expressions": True,
        "unset": False,
        "single": False,
    }


#: What an ABAC policy attaches.
ROW_FILTER = "ROW FILTER"
COLUMN_MASK = "COLUMN MASK"


class MatchColumn(exp.Expression):
    """``MATCH COLUMNS condition AS alias``: ``this`` the tag condition, ``alias`` the name
    the policy's ``ON COLUMN`` and ``USING COLUMNS`` refer to."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "alias": True}


class CreatePolicy(exp.Expression):
    """``CREATE [OR REPLACE] POLICY p ON kind name [COMMENT '…'] ROW FILTER f | COLUMN MASK f
    [ON COLUMN a] TO principal, … [EXCEPT principal, …] FOR TABLES [WHEN cond]
    [MATCH COLUMNS cond AS a, …] [USING COLUMNS (a | literal, …)]``: an ABAC policy.

    ``this`` the policy's name (identifier), ``on`` a ``Securable`` (CATALOG, SCHEMA or
    TABLE), ``kind`` ``ROW_FILTER`` or ``COLUMN_MASK``, ``function`` an ``exp.Table``,
    ``to`` / ``except_`` identifiers, ``when`` the table condition, ``match`` a list of
    ``MatchColumn``, ``on_column`` the masked alias, ``using`` identifiers and literals.
    """

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "on": True,
        "kind": True,
        "function": True,
        "to": True,
        "except_": False,
        "when": False,
        "match": False,
        "on_column": False,
        "using": False,
        "replace": False,
        "comment": False,
    }


class DropPolicy(exp.Expression):
    """``DROP POLICY [IF EXISTS] p ON kind name``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "on": True, "exists": False}


class ShowPolicies(exp.Expression):
    """``SHOW POLICIES ON kind name``: the policies defined on that object."""

    arg_types: ClassVar[dict[str, bool]] = {"on": True}


class AlterAddColumns(exp.Expression):
    """``ALTER TABLE t ADD COLUMNS (col TYPE [NOT NULL] [COMMENT '…'], …)``: ``this`` a
    ``Securable``, ``expressions`` the ``exp.ColumnDef`` list."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expressions": True}


class AlterTableProperties(exp.Expression):
    """``ALTER TABLE t SET TBLPROPERTIES ('k' = 'v', …)`` / ``UNSET TBLPROPERTIES [IF EXISTS]
    ('k', …)``: ``expressions`` are ``exp.Property`` (string literal key and value)."""

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "expressions": True,
        "unset": False,
        "exists": False,
    }


STEWARD_NODES: tuple[type[exp.Expression], ...] = (
    Securable,
    ShowGrants,
    AlterOwner,
    CreateGroup,
    DropGroup,
    AlterGroupMembers,
    ShowPrincipals,
    ShowObjects,
    CreateFunction,
    RowFilterClause,
    ColumnMaskClause,
    AlterRowFilter,
    AlterColumnMask,
    UseNamespace,
    TagAssignment,
    AlterTags,
    MatchColumn,
    CreatePolicy,
    DropPolicy,
    ShowPolicies,
    AlterAddColumns,
    AlterTableProperties,
)
