"""The Steward SQL dialect: every docs/sql.md statement parses to a typed tree and round-trips.

The corpus pins three things per statement: the fields the executor will read (through the
accessor API, as the executor does), the canonical SQL, and tree equality across a
print/parse round trip. Error tests pin exact positions, because docs/sql.md promises a syntax
error names its line and column. The fuzz test guards the other promise: bad input is a
``SqlSyntaxError`` and never a crash, a hang or a silent ``exp.Command``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.errors import TokenError

from policy.dialect import (
    SqlSyntaxError,
    Steward,
    parse_statement,
    to_sql,
)
from policy.parameters import (
    ParameterError,
    bind_parameters,
    parameter_names,
)
from policy.securables import Privilege, SecurableType
from policy.statement_reading import (
    PolicyFunctionSpec,
    PolicySpec,
    StatementKind,
    action_of,
    alias_of,
    cascade_of,
    column_mask_of,
    columns_of,
    comment_of,
    function_of,
    group_of,
    if_exists,
    if_not_exists,
    member_of,
    policy_name_of,
    policy_of,
    primary_key_of,
    principal_of,
    principals_of,
    privileges_of,
    row_filter_of,
    scope_of,
    securable_of,
    securable_type,
    statement_kind,
    tables_of,
    tags_of,
)
from policy.statements import SECURABLE_KINDS

K = StatementKind


def summarize(tree: exp.Expression) -> dict[str, object]:
    """The fields the executor reads, gathered through the public accessors only."""
    kind = statement_kind(tree)
    out: dict[str, object] = {"statement": kind}
    if kind in (K.GRANT, K.REVOKE):
        out["privileges"] = privileges_of(tree)
        out["principals"] = principals_of(tree)
    if kind in (K.SHOW_GRANTS, K.SHOW_GRANTS_TO, K.ALTER_OWNER):
        out["principal"] = principal_of(tree)
    if kind in (K.CREATE_GROUP, K.DROP_GROUP, K.ALTER_GROUP):
        out["group"] = group_of(tree)
    if kind is K.ALTER_GROUP:
        out["action"] = action_of(tree)
        out["member"] = member_of(tree)
    if kind in (K.SHOW_CATALOGS, K.SHOW_SCHEMAS, K.SHOW_TABLES, K.SHOW_MODELS, K.SHOW_FUNCTIONS):
        out["scope"] = scope_of(tree)
    if kind is K.CREATE_FUNCTION:
        spec = function_of(tree)
        out["function"] = (spec.parameters, spec.returns, to_sql(spec.body), spec.replace)
        out["if_not_exists"] = if_not_exists(tree)
    if kind in (K.SET_ROW_FILTER, K.DROP_ROW_FILTER) or (
        kind is K.CREATE_TABLE and row_filter_of(tree) is not None
    ):
        out["row_filter"] = row_filter_of(tree)
    if kind in (K.SET_COLUMN_MASK, K.DROP_COLUMN_MASK):
        out["mask"] = column_mask_of(tree)
    if kind in (K.CREATE_CATALOG, K.CREATE_SCHEMA, K.CREATE_TABLE):
        out["if_not_exists"] = if_not_exists(tree)
    if kind in (K.SET_TAGS, K.UNSET_TAGS):
        out["tags"] = tags_of(tree)
    if kind is K.CREATE_POLICY:
        out["policy"] = policy_of(tree)
    if kind is K.DROP_POLICY:
        out["policy"] = policy_name_of(tree)
        out["if_exists"] = if_exists(tree)
    dropping = (K.DROP_CATALOG, K.DROP_SCHEMA, K.DROP_TABLE, K.DROP_VIEW, K.DROP_MODEL)
    if kind in (*dropping, K.DROP_FUNCTION):
        out["if_exists"] = if_exists(tree)
        out["cascade"] = cascade_of(tree)
    # Bind every parameter to a visible marker: comment_of and columns_of refuse unbound ones.
    bound = bind_parameters(tree, {n: f"<{n}>" for n in parameter_names(tree)})
    commented = (K.CREATE_CATALOG, K.CREATE_SCHEMA, K.CREATE_TABLE, K.CREATE_VIEW, K.COMMENT_ON)
    if kind in (*commented, K.CREATE_FUNCTION, K.CREATE_POLICY):
        out["comment"] = comment_of(bound)
    if kind is K.CREATE_TABLE:
        out["columns"] = [
            (c.name, c.type_text, c.nullable, c.comment, *([c.mask] if c.mask else []))
            for c in columns_of(bound)
        ]
        out["primary_key"] = primary_key_of(tree)
    if kind is K.SELECT:
        out["class"] = type(tree).__name__
    if kind in (K.SET_ALIAS, K.DROP_ALIAS):
        out["alias"] = alias_of(bind_parameters(tree, dict.fromkeys(parameter_names(tree), 7)))
    if kind not in (
        K.SELECT,
        K.SHOW_CATALOGS,
        K.SHOW_SCHEMAS,
        K.SHOW_TABLES,
        K.SHOW_MODELS,
        K.SHOW_FUNCTIONS,
        K.SHOW_GROUPS,
        K.SHOW_USERS,
        K.SHOW_GRANTS_TO,
        K.CREATE_GROUP,
        K.DROP_GROUP,
        K.ALTER_GROUP,
    ):
        out["securable"] = securable_of(tree)
    out["parameters"] = parameter_names(tree)
    return out


@dataclass(frozen=True)
class Case:
    sql: str
    canonical: str
    fields: dict[str, object] = field(default_factory=dict)


def tbl(*parts: str) -> tuple[str, list[str]]:
    return ("TABLE", list(parts))


def fn(*parts: str, columns: tuple[str, ...] = ()) -> PolicyFunctionSpec:
    return PolicyFunctionSpec(tuple(parts), columns)


CORPUS: list[Case] = [
    # ---- functions, row filters, column masks, USE (docs/row-access.md) ---------------
    Case(
        "create function main.hr.us_only(region string) returns boolean "
        "return is_account_group_member('admins') or region = 'US'",
        "CREATE FUNCTION main.hr.us_only(region STRING) RETURNS BOOLEAN "
        "RETURN IS_ACCOUNT_GROUP_MEMBER('admins') OR region = 'US'",
        {
            "statement": K.CREATE_FUNCTION,
            "securable": ("FUNCTION", ["main", "hr", "us_only"]),
            "function": (
                (("region", "STRING"),),
                "BOOLEAN",
                "IS_ACCOUNT_GROUP_MEMBER('admins') OR region = 'US'",
                False,
            ),
            "comment": None,
            "if_not_exists": False,
        },
    ),
    Case(
        "CREATE OR REPLACE FUNCTION f(s STRING, n DECIMAL(10,2)) COMMENT :why "
        "RETURN CASE WHEN is_member('hr') THEN s ELSE '***' END",
        "CREATE OR REPLACE FUNCTION f(s STRING, n DECIMAL(10, 2)) COMMENT :why "
        "RETURN CASE WHEN IS_MEMBER('hr') THEN s ELSE '***' END",
        {
            "statement": K.CREATE_FUNCTION,
            "securable": ("FUNCTION", ["f"]),
            "comment": "<why>",
            "parameters": ["why"],
        },
    ),
    Case(
        "CREATE FUNCTION IF NOT EXISTS s.f() RETURN current_user()",
        "CREATE FUNCTION IF NOT EXISTS s.f() RETURN CURRENT_USER()",
        {"statement": K.CREATE_FUNCTION, "if_not_exists": True},
    ),
    Case(
        "DROP FUNCTION IF EXISTS main.hr.us_only",
        "DROP FUNCTION IF EXISTS main.hr.us_only",
        {"statement": K.DROP_FUNCTION, "if_exists": True, "cascade": False},
    ),
    Case(
        "show functions in main.hr",
        "SHOW FUNCTIONS IN main.hr",
        {"statement": K.SHOW_FUNCTIONS, "scope": ["main", "hr"]},
    ),
    Case(
        "DESCRIBE FUNCTION main.hr.us_only",
        "DESCRIBE FUNCTION main.hr.us_only",
        {"statement": K.DESCRIBE_FUNCTION, "securable": ("FUNCTION", ["main", "hr", "us_only"])},
    ),
    Case(
        "alter table main.hr.people set row filter main.hr.us_only on (region)",
        "ALTER TABLE main.hr.people SET ROW FILTER main.hr.us_only ON (region)",
        {
            "statement": K.SET_ROW_FILTER,
            "securable": tbl("main", "hr", "people"),
            "row_filter": fn("main", "hr", "us_only", columns=("region",)),
        },
    ),
    Case(
        "ALTER TABLE people SET ROW FILTER f ON ()",
        "ALTER TABLE people SET ROW FILTER f ON ()",
        {"statement": K.SET_ROW_FILTER, "row_filter": fn("f")},
    ),
    Case(
        "ALTER TABLE people DROP ROW FILTER",
        "ALTER TABLE people DROP ROW FILTER",
        {"statement": K.DROP_ROW_FILTER, "row_filter": None},
    ),
    Case(
        "ALTER TABLE people ALTER ssn SET MASK hr.mask_ssn USING COLUMNS (region, `Birth Date`)",
        "ALTER TABLE people ALTER COLUMN ssn SET MASK hr.mask_ssn USING COLUMNS "
        "(region, `Birth Date`)",
        {
            "statement": K.SET_COLUMN_MASK,
            "mask": ("ssn", fn("hr", "mask_ssn", columns=("region", "Birth Date"))),
        },
    ),
    Case(
        "ALTER TABLE people ALTER COLUMN ssn DROP MASK",
        "ALTER TABLE people ALTER COLUMN ssn DROP MASK",
        {"statement": K.DROP_COLUMN_MASK, "mask": ("ssn", None)},
    ),
    Case(
        "CREATE TABLE hr.people (id BIGINT, ssn STRING NOT NULL MASK hr.m USING COLUMNS (id), "
        "region STRING) COMMENT 'people' WITH ROW FILTER hr.f ON (region)",
        "CREATE TABLE hr.people (id BIGINT, ssn STRING NOT NULL MASK hr.m USING COLUMNS (id), "
        "region STRING) COMMENT 'people' WITH ROW FILTER hr.f ON (region)",
        {
            "statement": K.CREATE_TABLE,
            "columns": [
                ("id", "BIGINT", True, None),
                ("ssn", "STRING", False, None, fn("hr", "m", columns=("id",))),
                ("region", "STRING", True, None),
            ],
            "row_filter": fn("hr", "f", columns=("region",)),
        },
    ),
    Case(
        "describe extended main.hr.people",
        "DESCRIBE TABLE EXTENDED main.hr.people",
        {"statement": K.DESCRIBE_TABLE, "securable": tbl("main", "hr", "people")},
    ),
    Case(
        "use catalog main",
        "USE CATALOG main",
        {"statement": K.USE_CATALOG, "securable": ("CATALOG", ["main"])},
    ),
    Case(
        "USE main.hr",
        "USE SCHEMA main.hr",
        {"statement": K.USE_SCHEMA, "securable": ("SCHEMA", ["main", "hr"])},
    ),
    Case(
        "update main.hr.people as p set salary = p.salary * 1.1, note = :n where region = 'EU'",
        "UPDATE main.hr.people AS p SET salary = p.salary * 1.1, note = :n WHERE region = 'EU'",
        {
            "statement": K.UPDATE,
            "securable": tbl("main", "hr", "people"),
            "parameters": ["n"],
        },
    ),
    Case(
        "DELETE FROM people WHERE id IN (SELECT id FROM main.hr.leavers)",
        "DELETE FROM people WHERE id IN (SELECT id FROM main.hr.leavers)",
        {"statement": K.DELETE, "securable": tbl("people")},
    ),
    Case("delete from people", "DELETE FROM people", {"statement": K.DELETE}),
    Case(
        "show grants `alice@example.com`",
        "SHOW GRANTS TO `alice@example.com`",
        {"statement": K.SHOW_GRANTS_TO, "principal": "alice@example.com"},
    ),
    Case(
        "SHOW GRANTS TO analysts",
        "SHOW GRANTS TO analysts",
        {"statement": K.SHOW_GRANTS_TO, "principal": "analysts"},
    ),
    Case(
        "create table main.hr.eu comment 'copy' as select * from main.hr.people where r = 'EU'",
        "CREATE TABLE main.hr.eu COMMENT 'copy' AS SELECT * FROM main.hr.people WHERE r = 'EU'",
        {"statement": K.CREATE_TABLE, "securable": tbl("main", "hr", "eu"), "comment": "copy"},
    ),
    Case(
        "CREATE OR REPLACE TABLE t (a INT NOT NULL)",
        "CREATE OR REPLACE TABLE t (a INT NOT NULL)",
        {"statement": K.CREATE_TABLE, "columns": [("a", "INT", False, None)]},
    ),
    Case(
        "ALTER TABLE t ADD COLUMNS (b STRING COMMENT 'bee', c DECIMAL(10,2) MASK m)",
        "ALTER TABLE t ADD COLUMNS (b STRING COMMENT 'bee', c DECIMAL(10, 2) MASK m)",
        {"statement": K.ADD_COLUMNS, "securable": tbl("t")},
    ),
    Case(
        "alter table t add column d double",
        "ALTER TABLE t ADD COLUMNS (d DOUBLE)",
        {"statement": K.ADD_COLUMNS},
    ),
    Case(
        "ALTER TABLE t SET TBLPROPERTIES ('quality' = 'gold')",
        "ALTER TABLE t SET TBLPROPERTIES ('quality' = 'gold')",
        {"statement": K.SET_TBLPROPERTIES},
    ),
    Case(
        "ALTER TABLE t UNSET TBLPROPERTIES IF EXISTS ('quality', 'x')",
        "ALTER TABLE t UNSET TBLPROPERTIES IF EXISTS ('quality', 'x')",
        {"statement": K.UNSET_TBLPROPERTIES},
    ),
    Case(
        "CREATE OR REPLACE VIEW main.hr.v COMMENT 'eu' AS SELECT id FROM main.hr.people",
        "CREATE OR REPLACE VIEW main.hr.v COMMENT 'eu' AS SELECT id FROM main.hr.people",
        {"statement": K.CREATE_VIEW, "securable": tbl("main", "hr", "v"), "comment": "eu"},
    ),
    Case(
        "drop view if exists main.hr.v",
        "DROP VIEW IF EXISTS main.hr.v",
        {"statement": K.DROP_VIEW, "securable": tbl("main", "hr", "v"), "if_exists": True},
    ),
    # ---- governed tags and ABAC policies -----------------------------------------------
    Case(
        "set tag on table main.hr.people `cost center` = hr",
        "SET TAG ON TABLE main.hr.people `cost center` = hr",
        {
            "statement": K.SET_TAGS,
            "securable": tbl("main", "hr", "people"),
            "tags": (None, {"cost center": "hr"}),
        },
    ),
    Case(
        "UNSET TAG ON COLUMN main.hr.people.ssn 'pii'",
        "UNSET TAG ON COLUMN main.hr.people.ssn pii",
        {"statement": K.UNSET_TAGS, "tags": ("ssn", {"pii": None})},
    ),
    Case(
        "SET TAG ON CATALOG main certified",
        "SET TAG ON CATALOG main certified",
        {"statement": K.SET_TAGS, "securable": ("CATALOG", ["main"])},
    ),
    Case(
        "alter table people alter column ssn set tags ('pii' = 'ssn', 'reviewed')",
        "ALTER TABLE people ALTER COLUMN ssn SET TAGS ('pii' = 'ssn', 'reviewed')",
        {"statement": K.SET_TAGS, "tags": ("ssn", {"pii": "ssn", "reviewed": None})},
    ),
    Case(
        "ALTER SCHEMA main.hr UNSET TAGS ('sensitivity', 'owner')",
        "ALTER SCHEMA main.hr UNSET TAGS ('sensitivity', 'owner')",
        {
            "statement": K.UNSET_TAGS,
            "securable": ("SCHEMA", ["main", "hr"]),
            "tags": (None, {"sensitivity": None, "owner": None}),
        },
    ),
    Case(
        "CREATE OR REPLACE POLICY hide_ssn ON SCHEMA main.hr COMMENT 'pii'\n"
        "  COLUMN MASK main.hr.ssn_mask TO `account users` EXCEPT hr_admins FOR TABLES\n"
        "  WHEN has_tag_value('sensitivity', 'high') OR NOT has_tag('public')\n"
        "  MATCH COLUMNS has_tag_value('pii', 'ssn') AS s, has_tag('geo') g\n"
        "  ON COLUMN s USING COLUMNS (g, 'EU', 4)",
        "CREATE OR REPLACE POLICY hide_ssn ON SCHEMA main.hr COMMENT 'pii' COLUMN MASK "
        "main.hr.ssn_mask ON COLUMN s TO `account users` EXCEPT hr_admins FOR TABLES WHEN "
        "HAS_TAG_VALUE('sensitivity', 'high') OR NOT HAS_TAG('public') MATCH COLUMNS "
        "HAS_TAG_VALUE('pii', 'ssn') AS s, HAS_TAG('geo') AS g USING COLUMNS (g, 'EU', 4)",
        {
            "statement": K.CREATE_POLICY,
            "securable": ("SCHEMA", ["main", "hr"]),
            "comment": "pii",
            "policy": PolicySpec(
                name="hide_ssn",
                kind="COLUMN MASK",
                function=("main", "hr", "ssn_mask"),
                to=("account users",),
                except_=("hr_admins",),
                when="HAS_TAG_VALUE('sensitivity', 'high') OR NOT HAS_TAG('public')",
                match=(("HAS_TAG_VALUE('pii', 'ssn')", "s"), ("HAS_TAG('geo')", "g")),
                on_column="s",
                using=("g", "'EU'", "4"),
                using_literal=(False, True, True),
                replace=True,
            ),
        },
    ),
    Case(
        "CREATE POLICY eu ON TABLE t ROW FILTER f TO a, b FOR TABLES",
        "CREATE POLICY eu ON TABLE t ROW FILTER f TO a, b FOR TABLES",
        {"statement": K.CREATE_POLICY, "securable": tbl("t")},
    ),
    Case(
        "drop policy if exists eu on catalog main",
        "DROP POLICY IF EXISTS eu ON CATALOG main",
        {"statement": K.DROP_POLICY, "policy": "eu", "if_exists": True},
    ),
    Case(
        "SHOW POLICIES ON TABLE main.hr.people",
        "SHOW POLICIES ON TABLE main.hr.people",
        {"statement": K.SHOW_POLICIES, "securable": tbl("main", "hr", "people")},
    ),
    Case(
        "USE DATABASE hr",
        "USE SCHEMA hr",
        {"statement": K.USE_SCHEMA, "securable": ("SCHEMA", ["hr"])},
    ),
    # ---- GRANT ---------------------------------------------------------------------------
    Case(
        "GRANT SELECT ON TABLE main.sales.orders TO alice",
        "GRANT SELECT ON TABLE main.sales.orders TO alice",
        {
            "statement": K.GRANT,
            "privileges": ["SELECT"],
            "securable": tbl("main", "sales", "orders"),
            "principals": ["alice"],
        },
    ),
    Case(
        "grant select, modify on main.sales.orders to `data eng@corp.com`",
        "GRANT SELECT, MODIFY ON TABLE main.sales.orders TO `data eng@corp.com`",
        {
            "privileges": ["SELECT", "MODIFY"],
            "securable": tbl("main", "sales", "orders"),
            "principals": ["data eng@corp.com"],
        },
    ),
    Case(
        "Grant Use Catalog ON Catalog Main TO `Alice`",
        "GRANT USE CATALOG ON CATALOG Main TO Alice",
        {
            "privileges": ["USE CATALOG"],
            "securable": ("CATALOG", ["Main"]),
            "principals": ["Alice"],
        },
    ),
    Case(
        "GRANT  ALL   PRIVILEGES\n  ON SCHEMA main.sales\n  TO `analysts`",
        "GRANT ALL PRIVILEGES ON SCHEMA main.sales TO analysts",
        {"privileges": ["ALL PRIVILEGES"], "securable": ("SCHEMA", ["main", "sales"])},
    ),
    Case(
        "GRANT CREATE CATALOG ON METASTORE TO admins",
        "GRANT CREATE CATALOG ON METASTORE TO admins",
        {"privileges": ["CREATE CATALOG"], "securable": ("METASTORE", [])},
    ),
    Case(
        "GRANT create model version, EXECUTE, apply\ttag ON MODEL ml.prod.churn TO `ml team`",
        "GRANT CREATE MODEL VERSION, EXECUTE, APPLY TAG ON MODEL ml.prod.churn TO `ml team`",
        {
            "privileges": ["CREATE MODEL VERSION", "EXECUTE", "APPLY TAG"],
            "securable": ("MODEL", ["ml", "prod", "churn"]),
            "principals": ["ml team"],
        },
    ),
    Case(
        "GRANT EXECUTE ON FUNCTION ml.prod.churn TO bob",
        "GRANT EXECUTE ON FUNCTION ml.prod.churn TO bob",
        {"securable": ("FUNCTION", ["ml", "prod", "churn"])},
    ),
    Case(
        "GRANT QUERY ON SERVING ENDPOINT churn_ep TO `svc-scoring@corp.com`",
        "GRANT QUERY ON SERVING ENDPOINT churn_ep TO `svc-scoring@corp.com`",
        {
            "privileges": ["QUERY"],
            "securable": ("SERVING ENDPOINT", ["churn_ep"]),
            "principals": ["svc-scoring@corp.com"],
        },
    ),
    Case(
        "GRANT SELECT ON `main`.`my schema`.`odd.name` TO x, `y z`",
        "GRANT SELECT ON TABLE main.`my schema`.`odd.name` TO x, `y z`",
        {"securable": tbl("main", "my schema", "odd.name"), "principals": ["x", "y z"]},
    ),
    Case(
        "GRANT SELECT ON orders TO alice",
        "GRANT SELECT ON TABLE orders TO alice",
        {"securable": tbl("orders")},
    ),
    Case(
        "GRANT BROWSE, MANAGE ON CATALOG c TO g -- trailing comment",
        "GRANT BROWSE, MANAGE ON CATALOG c TO g",
        {"privileges": ["BROWSE", "MANAGE"], "securable": ("CATALOG", ["c"])},
    ),
    Case(
        "/* leading */ GRANT USE SCHEMA ON SCHEMA c.s TO g;",
        "GRANT USE SCHEMA ON SCHEMA c.s TO g",
        {"privileges": ["USE SCHEMA"], "securable": ("SCHEMA", ["c", "s"])},
    ),
    Case(
        "GRANT SELECT ON model.s.t TO a",
        "GRANT SELECT ON TABLE model.s.t TO a",
        {"securable": tbl("model", "s", "t")},
    ),
    Case(
        "GRANT SELECT ON TABLE `to`.`on`.`select` TO `from`",
        "GRANT SELECT ON TABLE `to`.`on`.`select` TO `from`",
        {"securable": tbl("to", "on", "select"), "principals": ["from"]},
    ),
    # ---- REVOKE --------------------------------------------------------------------------
    Case(
        "REVOKE SELECT ON TABLE main.sales.orders FROM alice",
        "REVOKE SELECT ON TABLE main.sales.orders FROM alice",
        {
            "statement": K.REVOKE,
            "privileges": ["SELECT"],
            "securable": tbl("main", "sales", "orders"),
            "principals": ["alice"],
        },
    ),
    Case(
        "revoke all privileges on catalog main from `data eng@corp.com`",
        "REVOKE ALL PRIVILEGES ON CATALOG main FROM `data eng@corp.com`",
        {"privileges": ["ALL PRIVILEGES"], "principals": ["data eng@corp.com"]},
    ),
    Case(
        "REVOKE USE CATALOG, USE SCHEMA ON SCHEMA main.sales FROM\n\t`Team A`",
        "REVOKE USE CATALOG, USE SCHEMA ON SCHEMA main.sales FROM `Team A`",
        {"privileges": ["USE CATALOG", "USE SCHEMA"], "principals": ["Team A"]},
    ),
    # ---- SHOW GRANTS ---------------------------------------------------------------------
    Case(
        "SHOW GRANTS ON TABLE main.sales.orders",
        "SHOW GRANTS ON TABLE main.sales.orders",
        {
            "statement": K.SHOW_GRANTS,
            "principal": None,
            "securable": tbl("main", "sales", "orders"),
        },
    ),
    Case(
        "show grants `alice@corp.com` on catalog main",
        "SHOW GRANTS `alice@corp.com` ON CATALOG main",
        {"principal": "alice@corp.com", "securable": ("CATALOG", ["main"])},
    ),
    Case(
        "SHOW GRANTS bob ON main.sales.orders",
        "SHOW GRANTS bob ON TABLE main.sales.orders",
        {"principal": "bob", "securable": tbl("main", "sales", "orders")},
    ),
    Case("SHOW GRANTS ON METASTORE", "SHOW GRANTS ON METASTORE", {"securable": ("METASTORE", [])}),
    Case(
        "Show Grants On Serving Endpoint ep1",
        "SHOW GRANTS ON SERVING ENDPOINT ep1",
        {"securable": ("SERVING ENDPOINT", ["ep1"])},
    ),
    # ---- ALTER … OWNER TO ------------------------------------------------------------------
    Case(
        "ALTER CATALOG main OWNER TO `data eng`",
        "ALTER CATALOG main OWNER TO `data eng`",
        {
            "statement": K.ALTER_OWNER,
            "securable": ("CATALOG", ["main"]),
            "principal": "data eng",
        },
    ),
    Case(
        "alter schema main.sales set owner to bob",
        "ALTER SCHEMA main.sales OWNER TO bob",
        {"securable": ("SCHEMA", ["main", "sales"]), "principal": "bob"},
    ),
    Case(
        "ALTER TABLE main.sales.orders SET OWNER TO alice",
        "ALTER TABLE main.sales.orders OWNER TO alice",
        {"securable": tbl("main", "sales", "orders"), "principal": "alice"},
    ),
    Case(
        "ALTER MODEL ml.prod.churn OWNER TO `ml-team`",
        "ALTER MODEL ml.prod.churn OWNER TO `ml-team`",
        {"securable": ("MODEL", ["ml", "prod", "churn"]), "principal": "ml-team"},
    ),
    Case(
        "ALTER FUNCTION ml.prod.churn OWNER TO x",
        "ALTER FUNCTION ml.prod.churn OWNER TO x",
        {"securable": ("FUNCTION", ["ml", "prod", "churn"])},
    ),
    # ---- model aliases -------------------------------------------------------------------
    Case(
        "ALTER MODEL main.ml.churn SET ALIAS champion = 3",
        "ALTER MODEL main.ml.churn SET ALIAS champion = 3",
        {
            "statement": K.SET_ALIAS,
            "securable": ("MODEL", ["main", "ml", "churn"]),
            "alias": ("champion", 3),
        },
    ),
    Case(
        "alter function main.ml.churn set alias `Challenger` = :v",
        "ALTER FUNCTION main.ml.churn SET ALIAS Challenger = :v",
        {"statement": K.SET_ALIAS, "alias": ("Challenger", 7), "parameters": ["v"]},
    ),
    Case(
        "ALTER MODEL main.ml.churn DROP ALIAS champion",
        "ALTER MODEL main.ml.churn DROP ALIAS champion",
        {"statement": K.DROP_ALIAS, "alias": ("champion", None)},
    ),
    Case(
        "ALTER SERVING ENDPOINT churn_ep SET OWNER TO `svc@corp.com`",
        "ALTER SERVING ENDPOINT churn_ep OWNER TO `svc@corp.com`",
        {"securable": ("SERVING ENDPOINT", ["churn_ep"]), "principal": "svc@corp.com"},
    ),
    # ---- CREATE / DROP CATALOG and SCHEMA ------------------------------------------------
    Case(
        "CREATE CATALOG main",
        "CREATE CATALOG main",
        {
            "statement": K.CREATE_CATALOG,
            "securable": ("CATALOG", ["main"]),
            "if_not_exists": False,
            "comment": None,
        },
    ),
    Case(
        "create catalog if not exists `Main Cat` comment 'the main one'",
        "CREATE CATALOG IF NOT EXISTS `Main Cat` COMMENT 'the main one'",
        {"securable": ("CATALOG", ["Main Cat"]), "if_not_exists": True, "comment": "the main one"},
    ),
    Case(
        "CREATE SCHEMA main.sales COMMENT :c",
        "CREATE SCHEMA main.sales COMMENT :c",
        {
            "statement": K.CREATE_SCHEMA,
            "securable": ("SCHEMA", ["main", "sales"]),
            "comment": "<c>",
            "parameters": ["c"],
        },
    ),
    Case(
        "CREATE SCHEMA IF NOT EXISTS sales",
        "CREATE SCHEMA IF NOT EXISTS sales",
        {"securable": ("SCHEMA", ["sales"]), "if_not_exists": True},
    ),
    Case(
        "DROP CATALOG main",
        "DROP CATALOG main",
        {
            "statement": K.DROP_CATALOG,
            "securable": ("CATALOG", ["main"]),
            "if_exists": False,
            "cascade": False,
        },
    ),
    Case(
        "drop catalog if exists main cascade",
        "DROP CATALOG IF EXISTS main CASCADE",
        {"if_exists": True, "cascade": True},
    ),
    Case(
        "DROP SCHEMA main.sales CASCADE",
        "DROP SCHEMA main.sales CASCADE",
        {"statement": K.DROP_SCHEMA, "securable": ("SCHEMA", ["main", "sales"]), "cascade": True},
    ),
    # ---- DROP TABLE / MODEL --------------------------------------------------------------
    Case(
        "DROP TABLE IF EXISTS main.sales.orders",
        "DROP TABLE IF EXISTS main.sales.orders",
        {"statement": K.DROP_TABLE, "securable": tbl("main", "sales", "orders"), "if_exists": True},
    ),
    Case(
        "drop model ml.prod.`churn v2`",
        "DROP MODEL ml.prod.`churn v2`",
        {"statement": K.DROP_MODEL, "securable": ("MODEL", ["ml", "prod", "churn v2"])},
    ),
    # ---- CREATE TABLE --------------------------------------------------------------------
    Case(
        """CREATE TABLE IF NOT EXISTS ml.features.customer_daily (
            customer_id BIGINT NOT NULL COMMENT 'customer key',
            ts TIMESTAMP NOT NULL,   -- event time
            spend DECIMAL(10,2),
            tags ARRAY<STRING>,
            CONSTRAINT customer_daily_pk PRIMARY KEY (customer_id, ts TIMESERIES)
        ) COMMENT 'daily features'""",
        "CREATE TABLE IF NOT EXISTS ml.features.customer_daily (customer_id BIGINT NOT NULL"
        " COMMENT 'customer key', ts TIMESTAMP NOT NULL, spend DECIMAL(10, 2),"
        " tags ARRAY<STRING>, CONSTRAINT customer_daily_pk PRIMARY KEY"
        " (customer_id, ts TIMESERIES)) COMMENT 'daily features'",
        {
            "statement": K.CREATE_TABLE,
            "securable": tbl("ml", "features", "customer_daily"),
            "if_not_exists": True,
            "comment": "daily features",
            "columns": [
                ("customer_id", "BIGINT", False, "customer key"),
                ("ts", "TIMESTAMP", False, None),
                ("spend", "DECIMAL(10, 2)", True, None),
                ("tags", "ARRAY<STRING>", True, None),
            ],
        },
    ),
    Case(
        "create table main.sales.orders (id int, `order date` date comment 'when' not null,"
        " note string)",
        "CREATE TABLE main.sales.orders (id INT, `order date` DATE NOT NULL COMMENT 'when',"
        " note STRING)",
        {
            "columns": [
                ("id", "INT", True, None),
                ("order date", "DATE", False, "when"),
                ("note", "STRING", True, None),
            ],
            "primary_key": None,
            "comment": None,
        },
    ),
    Case(
        "CREATE TABLE t (`constraint` INT, `to` STRING, comment STRING COMMENT :c,"
        " CONSTRAINT pk PRIMARY KEY (`constraint`))",
        "CREATE TABLE t (`constraint` INT, `to` STRING, comment STRING COMMENT :c,"
        " CONSTRAINT pk PRIMARY KEY (`constraint`))",
        {
            "securable": tbl("t"),
            "columns": [
                ("constraint", "INT", True, None),
                ("to", "STRING", True, None),
                ("comment", "STRING", True, "<c>"),
            ],
            "parameters": ["c"],
        },
    ),
    # ---- SHOW CATALOGS / SCHEMAS / TABLES / MODELS ----------------------------------------
    Case("SHOW CATALOGS", "SHOW CATALOGS", {"statement": K.SHOW_CATALOGS, "scope": None}),
    Case(
        "show schemas in main",
        "SHOW SCHEMAS IN main",
        {"statement": K.SHOW_SCHEMAS, "scope": ["main"]},
    ),
    Case("SHOW SCHEMAS", "SHOW SCHEMAS", {"statement": K.SHOW_SCHEMAS, "scope": None}),
    Case(
        "SHOW TABLES FROM main.sales",
        "SHOW TABLES IN main.sales",
        {"statement": K.SHOW_TABLES, "scope": ["main", "sales"]},
    ),
    Case("SHOW TABLES IN sales", "SHOW TABLES IN sales", {"scope": ["sales"]}),
    Case(
        "show models in `ml`.`prod`",
        "SHOW MODELS IN ml.prod",
        {"statement": K.SHOW_MODELS, "scope": ["ml", "prod"]},
    ),
    Case("SHOW   MODELS", "SHOW MODELS", {"statement": K.SHOW_MODELS, "scope": None}),
    # ---- DESCRIBE ------------------------------------------------------------------------
    Case(
        "DESCRIBE TABLE main.sales.orders",
        "DESCRIBE TABLE main.sales.orders",
        {"statement": K.DESCRIBE_TABLE, "securable": tbl("main", "sales", "orders")},
    ),
    Case(
        "desc main.sales.orders",
        "DESCRIBE TABLE main.sales.orders",
        {"statement": K.DESCRIBE_TABLE, "securable": tbl("main", "sales", "orders")},
    ),
    Case(
        "DESCRIBE MODEL ml.prod.churn",
        "DESCRIBE MODEL ml.prod.churn",
        {"statement": K.DESCRIBE_MODEL, "securable": ("MODEL", ["ml", "prod", "churn"])},
    ),
    Case(
        "describe catalog main",
        "DESCRIBE CATALOG main",
        {"statement": K.DESCRIBE_CATALOG, "securable": ("CATALOG", ["main"])},
    ),
    Case(
        "DESCRIBE SCHEMA main.`sales team`",
        "DESCRIBE SCHEMA main.`sales team`",
        {"statement": K.DESCRIBE_SCHEMA, "securable": ("SCHEMA", ["main", "sales team"])},
    ),
    # ---- COMMENT ON ----------------------------------------------------------------------
    Case(
        "COMMENT ON TABLE main.sales.orders IS 'All orders'",
        "COMMENT ON TABLE main.sales.orders IS 'All orders'",
        {
            "statement": K.COMMENT_ON,
            "securable": tbl("main", "sales", "orders"),
            "comment": "All orders",
        },
    ),
    Case(
        "comment on catalog main is null",
        "COMMENT ON CATALOG main IS NULL",
        {"securable": ("CATALOG", ["main"]), "comment": None},
    ),
    Case(
        "COMMENT ON SCHEMA main.sales IS :note",
        "COMMENT ON SCHEMA main.sales IS :note",
        {"comment": "<note>", "parameters": ["note"]},
    ),
    Case(
        "COMMENT ON MODEL ml.prod.churn IS 'it\\'s good'",
        "COMMENT ON MODEL ml.prod.churn IS 'it\\'s good'",
        {"securable": ("MODEL", ["ml", "prod", "churn"]), "comment": "it's good"},
    ),
    Case(
        "COMMENT ON SERVING ENDPOINT ep IS 'scores churn'",
        "COMMENT ON SERVING ENDPOINT ep IS 'scores churn'",
        {"securable": ("SERVING ENDPOINT", ["ep"]), "comment": "scores churn"},
    ),
    # ---- groups (docs/api.md) ----------------------------------------------------------------
    Case(
        "CREATE GROUP analysts",
        "CREATE GROUP analysts",
        {"statement": K.CREATE_GROUP, "group": "analysts"},
    ),
    Case(
        "create group `data eng`",
        "CREATE GROUP `data eng`",
        {"statement": K.CREATE_GROUP, "group": "data eng"},
    ),
    Case("DROP GROUP analysts", "DROP GROUP analysts", {"statement": K.DROP_GROUP}),
    Case(
        "ALTER GROUP analysts ADD USER `alice@corp.com`",
        "ALTER GROUP analysts ADD USER `alice@corp.com`",
        {
            "statement": K.ALTER_GROUP,
            "group": "analysts",
            "action": "ADD",
            "member": ("USER", "alice@corp.com"),
        },
    ),
    Case(
        "alter group analysts remove user bob",
        "ALTER GROUP analysts REMOVE USER bob",
        {"action": "REMOVE", "member": ("USER", "bob")},
    ),
    Case(
        "ALTER GROUP `all staff` ADD GROUP analysts",
        "ALTER GROUP `all staff` ADD GROUP analysts",
        {"group": "all staff", "action": "ADD", "member": ("GROUP", "analysts")},
    ),
    Case(
        "Alter Group `all staff` Remove Group Analysts",
        "ALTER GROUP `all staff` REMOVE GROUP Analysts",
        {"action": "REMOVE", "member": ("GROUP", "Analysts")},
    ),
    Case("SHOW GROUPS", "SHOW GROUPS", {"statement": K.SHOW_GROUPS}),
    Case("show users", "SHOW USERS", {"statement": K.SHOW_USERS}),
    # ---- SELECT --------------------------------------------------------------------------
    Case(
        "SELECT * FROM system.access.audit WHERE action_name = :action LIMIT :n",
        "SELECT * FROM system.access.audit WHERE action_name = :action LIMIT :n",
        {"statement": K.SELECT, "class": "Select", "parameters": ["action", "n"]},
    ),
    Case(
        "select source_table_full_name, target_table_full_name\n"
        "from system.access.table_lineage\n"
        "where event_time > :since -- recent only\n"
        "order by event_time desc",
        "SELECT source_table_full_name, target_table_full_name FROM"
        " system.access.table_lineage WHERE event_time > :since ORDER BY event_time DESC",
        {"class": "Select", "parameters": ["since"]},
    ),
    Case(
        "WITH recent AS (SELECT * FROM system.access.audit) SELECT count(*) FROM recent",
        "WITH recent AS (SELECT * FROM system.access.audit) SELECT COUNT(*) FROM recent",
        {"class": "Select", "parameters": []},
    ),
    Case("SELECT 1 UNION ALL SELECT 2", "SELECT 1 UNION ALL SELECT 2", {"class": "Union"}),
    # ---- INSERT / MERGE --------------------------------------------------------------------
    Case(
        "insert into main.sales.orders (id, `Odd Name`) values (1, 'a'), (:n, null)",
        "INSERT INTO main.sales.orders (id, `Odd Name`) VALUES (1, 'a'), (:n, NULL)",
        {"statement": K.INSERT, "securable": tbl("main", "sales", "orders"), "parameters": ["n"]},
    ),
    Case(
        "INSERT INTO TABLE orders SELECT * FROM main.sales.staging WHERE id > 3",
        "INSERT INTO orders SELECT * FROM main.sales.staging WHERE id > 3",
        {"statement": K.INSERT, "securable": tbl("orders")},
    ),
    Case(
        "MERGE INTO main.s.t AS t USING (SELECT * FROM main.s.u) AS u ON t.id = u.id\n"
        "WHEN MATCHED AND u.deleted THEN DELETE\n"
        "WHEN MATCHED THEN UPDATE SET v = u.v, w = t.w + 1\n"
        "WHEN NOT MATCHED AND u.v IS NOT NULL THEN INSERT (id, v) VALUES (u.id, u.v)",
        "MERGE INTO main.s.t AS t USING (SELECT * FROM main.s.u) AS u ON t.id = u.id "
        "WHEN MATCHED AND u.deleted THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET v = u.v, w = t.w + 1 "
        "WHEN NOT MATCHED AND NOT u.v IS NULL THEN INSERT (id, v) VALUES (u.id, u.v)",
        {"statement": K.MERGE, "securable": tbl("main", "s", "t")},
    ),
    Case(
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT *",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT *",
        {"statement": K.MERGE, "securable": tbl("t")},
    ),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c.sql[:60] for c in CORPUS])
def test_corpus_fields(case: Case) -> None:
    summary = summarize(parse_statement(case.sql))
    for key, expected in case.fields.items():
        assert summary[key] == expected, key


@pytest.mark.parametrize("case", CORPUS, ids=[c.sql[:60] for c in CORPUS])
def test_corpus_round_trip(case: Case) -> None:
    tree = parse_statement(case.sql)
    assert not tree.find(exp.Command)
    assert to_sql(tree) == case.canonical
    again = parse_statement(to_sql(tree))
    assert again == tree
    assert to_sql(again) == case.canonical
    assert summarize(again) == summarize(tree)


def test_corpus_covers_every_statement_kind() -> None:
    seen = {statement_kind(parse_statement(case.sql)) for case in CORPUS}
    assert seen == set(StatementKind)


def test_names_keep_case_and_quoting_is_canonical() -> None:
    quoted = parse_statement("GRANT SELECT ON TABLE `Main`.`Sales`.`Orders` TO `Alice`")
    bare = parse_statement("grant select on table Main.Sales.Orders to Alice")
    assert securable_of(quoted) == ("TABLE", ["Main", "Sales", "Orders"])
    assert principals_of(quoted) == ["Alice"]
    assert quoted == bare  # back-quotes that are not needed carry no meaning
    assert parse_statement("GRANT SELECT ON TABLE t TO alice") != parse_statement(
        "GRANT SELECT ON TABLE t TO Alice"
    )


def test_unknown_governance_statements_never_become_commands() -> None:
    """Stock sqlglot gives exp.Command for these; Steward gives typed trees."""
    for sql in (
        "SHOW GRANTS ON TABLE c.s.t",
        "ALTER TABLE c.s.t OWNER TO x",
        "CREATE CATALOG c",
        "DROP CATALOG c",
        "GRANT USE CATALOG ON CATALOG c TO x",
        "SHOW TABLES IN c.s",
    ):
        assert isinstance(sqlglot.parse_one(sql, read="databricks"), exp.Command), sql
        assert not parse_statement(sql).find(exp.Command), sql
        # sqlglot's own entry point, given this dialect, uses the same grammar.
        assert sqlglot.parse_one(sql, read=Steward) == parse_statement(sql), sql


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT 1",
        "CALL f()",
        "SHOW VIEWS IN c.s",
        "ALTER TABLE t RENAME TO u",
        "CREATE FUNCTION f(x INT) RETURNS TABLE (a INT) RETURN 1",
        "CREATE FUNCTION f(x INT) RETURN SELECT 1",
        "CREATE FUNCTION f(x INT)",
        "CREATE OR REPLACE FUNCTION IF NOT EXISTS f() RETURN 1",
        "ALTER TABLE t SET ROW FILTER f",
        "ALTER TABLE t SET ROW FILTER f ON x",
        "ALTER TABLE t ALTER COLUMN c SET MASK f USING (a)",
        "ALTER TABLE t ALTER COLUMN c MASK f",
        "CREATE TABLE t (a INT MASK) ",
        "CREATE TABLE t (a INT MASK f MASK g)",
        "CREATE TABLE t (a INT) WITH ROW FILTER f",
        "USE",
        "USE CATALOG a.b",
        "CREATE TABLE t (a INT) USING DELTA",
        "GRANT SELECT ON t TO x WITH GRANT OPTION",
        "GRANT OWNERSHIP ON TABLE t TO x",
        "REVOKE GRANT OPTION FOR SELECT ON t FROM x",
        "OPTIMIZE t",
        "VACUUM t",
        "SET x = 1",
        "MSCK REPAIR TABLE t",
        "REFRESH TABLE t",
        "CACHE TABLE t",
        "TRUNCATE TABLE t",
        "DELETE FROM t USING s WHERE t.a = s.a",
        "UPDATE t SET a = 1 FROM s",
        "INSERT OVERWRITE t VALUES (1)",
        "INSERT INTO t PARTITION (p = 1) VALUES (1)",
        "INSERT INTO t BY NAME SELECT 1",
        "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED BY SOURCE THEN DELETE",
        "MERGE INTO t USING s ON t.a = s.a",
        "MERGE INTO t USING s WHEN MATCHED THEN DELETE",
        "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN INSERT *",
        "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN UPDATE SET *",
        "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN INSERT (a, b) VALUES (1)",
        "ANALYZE TABLE t COMPUTE STATISTICS",
        "DROP TABLE t CASCADE",
        "COMMENT ON COLUMN t.c IS 'x'",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "(1)",
        "SELECT * INTO t FROM x",
        "SELECT 1 FOR UPDATE",
    ],
)
def test_unsupported_syntax_is_a_positioned_error(sql: str) -> None:
    with pytest.raises(SqlSyntaxError) as raised:
        parse_statement(sql)
    assert raised.value.line >= 1 and raised.value.column >= 1
    assert raised.value.message.startswith("Syntax error at line ")


# ---- errors -----------------------------------------------------------------------------

ERRORS: list[tuple[str, int, int, str, str]] = [
    ("GRANT SELECT ON TABLE c.s.t\nFORM alice", 2, 1, "FORM", "expected TO"),
    ("REVOKE SELECT ON TABLE c.s.t TO alice", 1, 30, "TO", "expected FROM"),
    (
        "GRANT SELEKT ON t TO x",
        1,
        7,
        "SELEKT",
        "expected a privilege such as SELECT, USE CATALOG or ALL PRIVILEGES",
    ),
    ("GRANT USE CATLOG ON CATALOG c TO x", 1, 11, "CATLOG", "expected CATALOG or SCHEMA"),
    ("GRANT SELECT TO x", 1, 14, "TO", "expected ',' or ON"),
    ("GRANT SELECT ON TABLE a.b.c.d TO x", 1, 28, ".", "a TABLE name has at most 3 parts"),
    (
        "SHOW GRANT ON TABLE t",
        1,
        6,
        "GRANT",
        "expected GRANTS, CATALOGS, SCHEMAS, TABLES, MODELS, FUNCTIONS, GROUPS, USERS or POLICIES",
    ),
    ("ALTER TABLE t OWNER x", 1, 21, "x", "expected TO"),
    ("ALTER MODEL a.b.m SET ALIAS c 3", 1, 31, "3", "expected '='"),
    ("ALTER MODEL a.b.m SET ALIAS c = x", 1, 33, "x", "expected a version number or :parameter"),
    (
        "ALTER TABLE a.b.t DROP ALIAS c",
        1,
        19,
        "DROP",
        "expected OWNER, SET OWNER, SET TAGS, UNSET TAGS, SET ROW FILTER, DROP ROW FILTER or "
        "ALTER COLUMN",
    ),
    ("ALTER MODEL a.b.m DROP c", 1, 24, "c", "expected ALIAS"),
    (
        "CREATE MATERIALIZED VIEW v AS SELECT 1",
        1,
        8,
        "MATERIALIZED",
        "expected CATALOG, SCHEMA, TABLE, VIEW, FUNCTION, POLICY or GROUP",
    ),
    (
        "CREATE TABLE c.s.t (\n  id BIGINT,\n  v FOO\n)",
        3,
        5,
        "FOO",
        "expected a column type such as STRING, BIGINT or DECIMAL(10, 2)",
    ),
    ("DROP SCHEMA IF EXIST s", 1, 16, "EXIST", "expected EXISTS"),
    (
        "SELECT 1; SELECT 2",
        1,
        9,
        ";",
        "expected end of statement (one statement at a time)",
    ),
    ("", 1, 1, "", "expected a statement"),
    ("  -- nothing here\n", 1, 1, "", "expected a statement"),
    ("GRANT SELECT ON TABLE t TO alice extra", 1, 34, "extra", "expected end of statement"),
    (
        "COMMENT ON TABLE t IS 'unterminated",
        1,
        23,
        "'unterminated",
        "expected a closing ' to end the quoted text",
    ),
    ("GRANT SELECT ON TABLE `c.s.t TO x", 1, 23, "`c.s.t TO x", "expected a closing ` to end"),
    ("SELECT * FROM t WHERE a = ?", 1, 27, "?", "expected a named parameter such as :name"),
    ("SHOW GRANTS `alice` ON", 1, 23, "", "expected a securable"),
    ("ALTER GROUP g ADD ROLE r", 1, 19, "ROLE", "expected USER or GROUP"),
    ("   \n  GRANT SELECT ON TABLE t TO\n", 2, 29, "", "expected a principal"),
    ("SELECT a FROM t WHERE (b = 1", 1, 29, "", "expected )"),
    ("CREATE TABLE t (a INT, b INT", 1, 29, "", "expected ',' or ')'"),
    ("GRANT SELECT ON TABLE :t TO x", 1, 23, ":", "expected a TABLE name"),
    ("COMMENT ON TABLE t IS 42", 1, 23, "42", "expected a string literal or :parameter"),
    ("CREATE TABLE t (a DECIMAL(10 2))", 1, 19, "DECIMAL", "expected a column type"),
    (
        "CREATE TABLE t (a INT, CONSTRAINT pk PRIMARY KEY (a TIMESERIES, b TIMESERIES))",
        1,
        67,
        "TIMESERIES",
        "at most one key column may be TIMESERIES",
    ),
    ("SELECT * INTO t FROM x", 1, 10, "INTO", "expected a query without INTO"),
    ("SET TAG ON VIEW v k", 1, 12, "VIEW", "expected CATALOG, SCHEMA, TABLE, MODEL or COLUMN"),
    ("SET TAG ON COLUMN c k", 1, 21, "k", "expected '.' and the column"),
    ("ALTER TABLE t SET TAGS (pii = 'x')", 1, 25, "pii", "expected a tag key as a string"),
    ("ALTER TABLE t SET TAGS ('a' = 1)", 1, 31, "1", "expected a tag value as a string"),
    (
        "CREATE POLICY p ON TABLE t ROW FILTER f TO a FOR TABLES WHEN x > 1",
        1,
        62,
        "x",
        "expected has_tag('key') or has_tag_value('key', 'value')",
    ),
    (
        "CREATE POLICY p ON TABLE t ROW FILTER f TO a FOR TABLES USING COLUMNS (z)",
        1,
        72,
        "z",
        "expected an alias given in MATCH COLUMNS, not 'z'",
    ),
    (
        "CREATE POLICY p ON TABLE t COLUMN MASK f TO a FOR TABLES",
        1,
        57,
        "",
        "expected ON COLUMN and the alias of the masked column",
    ),
    ("CREATE POLICY p ON MODEL m ROW FILTER f", 1, 20, "MODEL", "expected CATALOG, SCHEMA"),
    ("CREATE POLICY p ON TABLE t ROW FILTER f TO a", 1, 45, "", "expected FOR"),
    ("SHOW POLICIES main", 1, 15, "main", "expected ON"),
    ("UPDATE t SET p.x = 1", 1, 1, "UPDATE", "expected an unqualified column name after SET"),
    ("UPDATE t WHERE x = 1", 1, 10, "WHERE", "expected SET"),
    ("DELETE t WHERE x = 1", 1, 8, "t", "expected FROM"),
    ("CREATE TABLE t AS VALUES (1)", 1, 19, "VALUES", "expected a query (SELECT …) after AS"),
    ("CREATE OR REPLACE CATALOG c", 1, 19, "CATALOG", "expected TABLE, VIEW, FUNCTION or"),
    ("CREATE VIEW v (a) AS SELECT 1", 1, 15, "(", "expected AS"),
    ("ALTER TABLE t ADD x INT", 1, 19, "x", "expected COLUMNS or COLUMN after ADD"),
    ("ALTER TABLE t SET TBLPROPERTIES ('a')", 1, 37, ")", "expected '=' and the property"),
]


@pytest.mark.parametrize(("sql", "line", "column", "token", "detail"), ERRORS)
def test_syntax_errors_are_located(
    sql: str, line: int, column: int, token: str, detail: str
) -> None:
    with pytest.raises(SqlSyntaxError) as raised:
        parse_statement(sql)
    err = raised.value
    assert (err.line, err.column, err.token) == (line, column, token)
    assert err.detail.startswith(detail)
    near = f"'{token}'" if token else "end of input"
    assert err.message.startswith(f"Syntax error at line {line}, column {column} near {near}: ")
    assert str(err) == err.message


def test_error_message_shape() -> None:
    with pytest.raises(SqlSyntaxError) as raised:
        parse_statement("SELECT *\nFROM t\nWHERE a = 1 ORDER a")
    assert raised.value.message == (
        "Syntax error at line 3, column 13 near 'ORDER': expected end of statement"
    )


# ---- parameters -------------------------------------------------------------------------


def test_named_parameters_parse_wherever_a_literal_may() -> None:
    sql = (
        "SELECT :p AS v, coalesce(:a, 1), CASE WHEN x > :lo THEN :label END"
        " FROM t WHERE x BETWEEN :lo AND :hi AND y IN (:a, :b) LIMIT :n"
    )
    tree = parse_statement(sql)
    assert parameter_names(tree) == ["a", "b", "hi", "label", "lo", "n", "p"]
    assert all(isinstance(p, exp.Placeholder) for p in tree.find_all(exp.Placeholder))
    assert parse_statement(to_sql(tree)) == tree


def test_binding_replaces_nodes_and_never_splices_text() -> None:
    tree = parse_statement("SELECT * FROM t WHERE a = :a AND b IN (:b, :a) LIMIT :n")
    hostile = "x' OR '1'='1"
    bound = bind_parameters(tree, {"a": hostile, "b": -2.5, "n": 10})
    assert not list(bound.find_all(exp.Placeholder))
    assert list(tree.find_all(exp.Placeholder))  # the original is untouched
    strings = [lit.this for lit in bound.find_all(exp.Literal) if lit.is_string]
    assert strings == [hostile, hostile]
    assert parse_statement(to_sql(bound)) == bound  # the value stayed one literal
    where = bound.args["where"].this
    assert isinstance(where, exp.And) and isinstance(where.this, exp.EQ)


def test_bind_parameter_errors() -> None:
    tree = parse_statement("SELECT :a, :b")
    with pytest.raises(ParameterError, match=":b"):
        bind_parameters(tree, {"a": 1})
    with pytest.raises(ParameterError, match="unsupported value type"):
        bind_parameters(tree, {"a": object(), "b": 1})
    with pytest.raises(ParameterError, match="finite"):
        bind_parameters(tree, {"a": float("nan"), "b": 1})
    bound = bind_parameters(tree, {"a": None, "b": exp.cast(exp.Literal.string("1"), "INT")})
    assert to_sql(bound) == "SELECT NULL, CAST('1' AS INT)"


def test_unbound_comment_is_refused() -> None:
    tree = parse_statement("COMMENT ON TABLE t IS :note")
    with pytest.raises(ParameterError, match=":note"):
        comment_of(tree)
    assert comment_of(bind_parameters(tree, {"note": "hello"})) == "hello"
    with pytest.raises(ParameterError, match="string"):
        comment_of(bind_parameters(tree, {"note": 5}))


# ---- accessors --------------------------------------------------------------------------


@pytest.mark.parametrize("privilege", [p for p in Privilege if p is not Privilege.OWNERSHIP])
def test_every_grantable_privilege_parses(privilege: Privilege) -> None:
    spelled = privilege.value.lower().replace(" ", "  ")
    tree = parse_statement(f"GRANT {spelled} ON CATALOG c TO x")
    assert privileges_of(tree) == [privilege.value]
    assert Privilege(privileges_of(tree)[0]) is privilege


def test_securable_type_maps_every_kind() -> None:
    assert {kind: securable_type(kind) for kind in SECURABLE_KINDS} == {
        "METASTORE": SecurableType.METASTORE,
        "CATALOG": SecurableType.CATALOG,
        "SCHEMA": SecurableType.SCHEMA,
        "TABLE": SecurableType.TABLE,
        "MODEL": SecurableType.MODEL,
        "FUNCTION": SecurableType.FUNCTION,
        "SERVING ENDPOINT": SecurableType.SERVING_ENDPOINT,
    }


def test_feature_table_key() -> None:
    tree = parse_statement(next(c.sql for c in CORPUS if "customer_daily" in c.sql))
    key = primary_key_of(tree)
    assert key is not None
    assert (key.name, key.columns, key.timeseries) == (
        "customer_daily_pk",
        ("customer_id", "ts"),
        "ts",
    )
    assert [c.data_type.is_type("bigint") for c in columns_of(tree)][:1] == [True]


def test_tables_read_by_a_query() -> None:
    tree = parse_statement(
        "WITH q AS (SELECT * FROM system.access.audit) SELECT * FROM q"
        " JOIN main.sales.orders o ON q.id = o.id WHERE o.x IN (SELECT x FROM `Main`.s.t)"
    )
    assert tables_of(tree) == [
        ["Main", "s", "t"],
        ["main", "sales", "orders"],
        ["system", "access", "audit"],
    ]
    with pytest.raises(ValueError, match="table function"):
        tables_of(parse_statement("SELECT * FROM read_files('/etc/passwd')"))


def test_accessors_reject_the_wrong_statement() -> None:
    with pytest.raises(TypeError):
        securable_of(parse_statement("SHOW USERS"))
    with pytest.raises(TypeError):
        principal_of(parse_statement("GRANT SELECT ON t TO x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        statement_kind(exp.Literal.number(1))


# ---- properties -------------------------------------------------------------------------

NAME_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
)


def backquote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@settings(max_examples=150, deadline=timedelta(milliseconds=500))
@given(parts=st.lists(NAME_TEXT, min_size=3, max_size=3), principal=NAME_TEXT)
def test_any_quoted_name_round_trips(parts: list[str], principal: str) -> None:
    sql = f"GRANT SELECT ON TABLE {'.'.join(map(backquote, parts))} TO {backquote(principal)}"
    tree = parse_statement(sql)
    assert securable_of(tree) == ("TABLE", parts)
    assert principals_of(tree) == [principal]
    assert parse_statement(to_sql(tree)) == tree


def _pieces(sql: str) -> list[str]:
    """The source text of each token (comments dropped), for token-level mutation."""
    try:
        return [sql[t.start : t.end + 1] for t in Steward().tokenize(sql)]
    except TokenError:  # some error examples do not even tokenize: mutate them whole
        return [sql]


CORPUS_PIECES = [_pieces(case.sql) for case in CORPUS] + [
    _pieces(sql) for sql, *_ in ERRORS if sql.strip()
]
VOCABULARY = sorted(
    {piece for pieces in CORPUS_PIECES for piece in pieces}
    | {",", "(", ")", ".", ";", "`", "'", ":", "--", "/*", "*/", "?", "\n"}
)


@st.composite
def mutated_statements(draw: st.DrawFn) -> str:
    pieces = list(draw(st.sampled_from(CORPUS_PIECES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(("delete", "insert", "swap", "duplicate")))
        if op == "insert" or not pieces:
            at = draw(st.integers(min_value=0, max_value=len(pieces)))
            pieces.insert(at, draw(st.sampled_from(VOCABULARY)))
            continue
        i = draw(st.integers(min_value=0, max_value=len(pieces) - 1))
        j = draw(st.integers(min_value=0, max_value=len(pieces) - 1))
        if op == "delete":
            del pieces[i]
        elif op == "swap":
            pieces[i], pieces[j] = pieces[j], pieces[i]
        else:
            pieces.insert(j, pieces[i])
    text = " ".join(pieces)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.characters(blacklist_categories=("Cs",))) + text[at:]
    if draw(st.booleans()):
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


@settings(
    max_examples=500,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sql=mutated_statements())
def test_fuzz_mutations_parse_or_fail_cleanly(sql: str) -> None:
    try:
        tree = parse_statement(sql)
    except SqlSyntaxError as err:
        # Only tokenizer errors may be chained; any other cause means the safety net in
        # parse_statement caught a crash, which is a bug to fix, not to hide.
        assert err.__cause__ is None or isinstance(err.__cause__, TokenError), err.__cause__
        assert err.line >= 1 and err.column >= 1
        lines = sql.split("\n")
        offset = sum(len(line) + 1 for line in lines[: err.line - 1]) + err.column - 1
        assert sql[offset:].startswith(err.token)
        return
    assert isinstance(tree, exp.Expression)
    assert not tree.find(exp.Command)
    again = parse_statement(to_sql(tree))  # what is logged must parse back
    if not isinstance(tree, exp.Query):  # Steward's own statements: exactly the same tree
        assert again == tree
