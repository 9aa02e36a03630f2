"""Steward's SQL dialect: sqlglot's Databricks dialect, narrowed to what Steward executes.

Why a dialect of our own: the statement API (docs/sql.md) takes Databricks-flavoured SQL, but
stock sqlglot parses most governance statements (``SHOW GRANTS``, ``ALTER … OWNER TO``,
``CREATE CATALOG``, ``GRANT`` with multi-word privileges, …) into ``exp.Command``, a bag of
text the executor could only re-parse by hand. Here every supported statement becomes a
typed tree, anything else is a ``SqlSyntaxError`` with a line, a column and what was
expected, and nothing ever silently falls back to ``exp.Command``.

Entry points
------------
``parse_statement(sql: str) -> exp.Expression``
    Exactly one statement (one trailing ``;`` is allowed). Raises ``SqlSyntaxError``.
``to_sql(node: exp.Expression, *, pretty: bool = False) -> str``
    Canonical SQL: upper-case keywords, explicit securable kinds, identifiers back-quoted
    only where needed, comments dropped. ``parse_statement(to_sql(t)) == t``. Raises
    ``sqlglot.errors.UnsupportedError`` rather than silently dropping what Databricks
    cannot express (never for a tree from ``parse_statement``, which checks this).

Trees (what ``parse_statement`` returns, by statement)
------------------------------------------------------
- GRANT / REVOKE: ``exp.Grant`` / ``exp.Revoke`` with ``securable`` a ``Securable``.
- SHOW GRANTS: ``ShowGrants``; ALTER … OWNER TO: ``AlterOwner``.
- CREATE CATALOG|SCHEMA|TABLE: ``exp.Create`` (``kind`` = ``"CATALOG"`` …); for TABLE,
  ``this`` is an ``exp.Schema`` of ``exp.ColumnDef`` and at most one ``exp.Constraint``.
- DROP CATALOG|SCHEMA|TABLE|MODEL: ``exp.Drop``; DESCRIBE: ``exp.Describe`` (``kind`` always
  set; a bare ``DESCRIBE name`` means TABLE); COMMENT ON: ``exp.Comment``.
- SHOW CATALOGS|SCHEMAS|TABLES|MODELS: ``ShowObjects``; SHOW USERS|GROUPS: ``ShowPrincipals``.
- CREATE GROUP / DROP GROUP / ALTER GROUP … ADD|REMOVE USER|GROUP: ``CreateGroup`` /
  ``DropGroup`` / ``AlterGroupMembers``.
- SELECT (and UNION, WITH, parenthesised queries): sqlglot's own ``exp.Query`` subclasses.
- ``INSERT INTO t [(cols)] VALUES … | query``: ``exp.Insert`` (``this`` the table, or an
  ``exp.Schema`` of it and the listed columns; ``expression`` an ``exp.Values`` or query).
  OVERWRITE, PARTITION, BY NAME, REPLACE WHERE, ``WITH … INSERT`` are syntax errors.
- ``MERGE INTO t [[AS] a] USING table|(query) [AS] s ON cond WHEN [NOT] MATCHED [AND c]
  THEN UPDATE SET *|UPDATE SET col = expr, …|DELETE|INSERT *|INSERT (cols) VALUES (…)``:
  ``exp.Merge`` with ``exp.When`` clauses (DELETE is ``exp.Var``); ``WHEN NOT MATCHED BY
  SOURCE`` and actions that do not fit the MATCHED/NOT MATCHED side are syntax errors.

Builders: ``make_identifier(text) -> exp.Identifier`` (back-quoted exactly when needed) and
``make_table(parts) -> exp.Table``, for code that constructs Steward trees itself.

Errors: ``SqlSyntaxError`` (``message``, ``line``, ``column``, ``token``, ``detail``) for
anything unparsable or unsupported.

Trees are read through :mod:`policy.statement_reading` (what a statement names) and
bound through :mod:`policy.parameters` (``:name`` values), never through ``args``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, NoReturn

from sqlglot import exp
from sqlglot.dialects.databricks import Databricks
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokens import Token, Tokenizer, TokenType

from policy.recent_trees import RecentTrees
from policy.securables import Privilege
from policy.statements import (
    CATALOG,
    FUNCTION,
    MAX_NAME_PARTS,
    METASTORE,
    MODEL,
    OBJECT_KINDS,
    SCHEMA,
    SECURABLE_KINDS,
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
    MatchColumn,
    RowFilterClause,
    Securable,
    ShowGrants,
    ShowObjects,
    ShowPolicies,
    ShowPrincipals,
    TagAssignment,
    UseNamespace,
)
from policy.statements import COLUMN_MASK as POLICY_COLUMN_MASK
from policy.statements import ROW_FILTER as POLICY_ROW_FILTER

__all__ = [
    "OBJECT_KINDS",
    "SECURABLE_KINDS",
    "AlterAddColumns",
    "AlterColumnMask",
    "AlterGroupMembers",
    "AlterModelAlias",
    "AlterOwner",
    "AlterRowFilter",
    "AlterTableProperties",
    "AlterTags",
    "ColumnMaskClause",
    "CreateFunction",
    "CreateGroup",
    "CreatePolicy",
    "DropGroup",
    "DropPolicy",
    "MatchColumn",
    "RowFilterClause",
    "Securable",
    "ShowGrants",
    "ShowObjects",
    "ShowPolicies",
    "ShowPrincipals",
    "SqlSyntaxError",
    "Steward",
    "TagAssignment",
    "UseNamespace",
    "make_identifier",
    "make_table",
    "parse_statement",
    "to_sql",
]


# --------------------------------------------------------------------------------------
# Errors


class SqlSyntaxError(Exception):
    """A statement that cannot be parsed, located precisely enough for a person to fix it.

    A syntax error's message must to name the line and column; ``token`` is the
    offending source text (``""`` at end of input) and ``detail`` says what was expected.
    """

    def __init__(self, detail: str, line: int, column: int, token: str) -> None:
        near = f"'{_shorten(token)}'" if token else "end of input"
        message = f"Syntax error at line {line}, column {column} near {near}: {detail}"
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.line = line
        self.column = column
        self.token = token


def _shorten(text: str, limit: int = 40) -> str:
    """Keep error messages readable when the offending token is a long literal."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _StewardParseError(ParseError):
    """Internal: a parse failure that still knows its token.

    It subclasses ``ParseError`` so sqlglot's speculative ``_try_parse`` keeps backtracking
    over it; ``parse_statement`` turns it into ``SqlSyntaxError``.
    """

    def __init__(self, detail: str, token: Token | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.token = token


# --------------------------------------------------------------------------------------
# Names


#: Words that may never be an unquoted name: they are what the grammar looks for right
#: where a name could otherwise stand (``SHOW GRANTS [principal] ON``, ``IF [NOT] EXISTS``,
#: a CREATE TABLE element), so reading them as names would make statements ambiguous.
_STRUCTURAL_WORDS = frozenset({"ON", "TO", "FROM", "IN", "IS", "IF", "CONSTRAINT"})

_KIND_FIRST_WORDS = frozenset(kind.split(" ")[0] for kind in SECURABLE_KINDS)

_PRIVILEGE_END = ""

_SHOW_WHAT = (
    "GRANTS",
    "CATALOGS",
    "SCHEMAS",
    "TABLES",
    "MODELS",
    "FUNCTIONS",
    "GROUPS",
    "USERS",
    "POLICIES",
)

#: Objects that carry governed tags (a column's tags are set through its table).
_TAGGED_KINDS = (CATALOG, SCHEMA, TABLE, MODEL, "COLUMN")
#: Objects an ABAC policy is defined on.
_POLICY_KINDS = (CATALOG, SCHEMA, TABLE)
#: The tag tests of WHEN and MATCH COLUMNS, with how many arguments each takes.
_TAG_TESTS = {"has_tag": 1, "has_tag_value": 2}


def _privilege_trie() -> dict[str, dict]:
    """Word trie of grantable privileges, so ``USE CATLOG`` fails at ``CATLOG`` saying
    ``expected CATALOG or SCHEMA`` instead of swallowing words up to ``ON``. A privilege
    of several words is also one word in the APIs' spelling (``USE_CATALOG``): both are
    taken everywhere a privilege is (docs/privileges.md, "Privilege spelling")."""
    root: dict[str, dict] = {}
    for privilege in Privilege:
        if privilege is Privilege.OWNERSHIP:  # implied by ownership, never granted
            continue
        node = root
        for word in privilege.value.split(" "):
            node = node.setdefault(word, {})
        node[_PRIVILEGE_END] = {}
        if " " in privilege.value:
            root.setdefault(privilege.value.replace(" ", "_"), {})[_PRIVILEGE_END] = {}
    return root


_PRIVILEGE_TRIE = _privilege_trie()


def _join_options(options: Sequence[str]) -> str:
    """``A``, ``A or B``, ``A, B or C`` — how 'expected …' lists read best."""
    if len(options) == 1:
        return options[0]
    return f"{', '.join(options[:-1])} or {options[-1]}"


# --------------------------------------------------------------------------------------
# The dialect


class Steward(Databricks):
    """Databricks SQL as Steward accepts it (see the module docstring for the grammar)."""

    class Tokenizer(Databricks.Tokenizer):
        # sqlglot tokenizes the rest of a statement after SHOW (and a few others) as one
        # opaque string, which is how SHOW ends up as exp.Command; Steward parses SHOW.
        COMMANDS: ClassVar[set[TokenType]] = set()

    class Parser(Databricks.Parser):
        """Statement-level grammar (docs/sql.md); SELECT is left to sqlglot."""

        # Only named ``:name`` parameters exist in the statement API; ``?``, ``$x`` and the
        # ``{x}`` widget syntax are rejected with a position rather than parsed as values.
        PLACEHOLDER_PARSERS: ClassVar[dict[TokenType, Callable]] = {
            TokenType.COLON: Databricks.Parser.PLACEHOLDER_PARSERS[TokenType.COLON],
            TokenType.PLACEHOLDER: lambda self: self._st_reject_placeholder(),
            TokenType.PARAMETER: lambda self: self._st_reject_placeholder(),
        }

        STEWARD_STATEMENTS: ClassVar[dict[str, Callable]] = {
            "GRANT": lambda self: self._st_grant(exp.Grant, "TO"),
            "REVOKE": lambda self: self._st_grant(exp.Revoke, "FROM"),
            "SHOW": lambda self: self._st_show(),
            "ALTER": lambda self: self._st_alter(),
            "CREATE": lambda self: self._st_create(),
            "DROP": lambda self: self._st_drop(),
            "DESCRIBE": lambda self: self._st_describe(),
            "DESC": lambda self: self._st_describe(),
            "COMMENT": lambda self: self._st_comment(),
            "INSERT": lambda self: self._st_insert(),
            "MERGE": lambda self: self._st_merge(),
            "UPDATE": lambda self: self._st_update(),
            "DELETE": lambda self: self._st_delete(),
            "USE": lambda self: self._st_use(),
            "SET": lambda self: self._st_tag_statement(unset=False),
            "UNSET": lambda self: self._st_tag_statement(unset=True),
        }

        QUERY_START_TOKENS: ClassVar[frozenset[TokenType]] = frozenset(
            {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN}
        )

        def parse(self, raw_tokens: list[Token], sql: str) -> list[exp.Expr | None]:
            """Route sqlglot's own entry point (``sqlglot.parse_one(…, read=Steward)``)
            through the Steward grammar too, so no path into this dialect can yield
            ``exp.Command``. ``parse_statement`` remains the API: it adds the one-statement
            rule and ``SqlSyntaxError``."""
            return self._parse(Steward.Parser._st_statement, raw_tokens, sql)

        # ---- error plumbing -------------------------------------------------------------

        def raise_error(self, message: str, token: Token | None = None) -> None:
            """Fail at once, keeping the token: sqlglot's own errors (inside SELECT) then get
            the same line/column treatment as ours."""
            detail = message
            if message.startswith("Expecting "):
                detail = "expected " + message.removeprefix("Expecting ")
            elif message.startswith("Expected "):
                # sqlglot appends the raw token repr ("… but got <Token …>"); the
                # position already says where, so keep only what was expected.
                detail = "expected " + message.removeprefix("Expected ").partition(" but got")[0]
            elif message.startswith("Required keyword"):
                detail = "incomplete expression"
            raise _StewardParseError(detail, token or self._curr or None)

        def _st_fail(self, expected: str, token: Token | None = None) -> NoReturn:
            raise _StewardParseError(f"expected {expected}", token or self._curr or None)

        def _st_reject_placeholder(self) -> NoReturn:
            raise _StewardParseError(
                "expected a named parameter such as :name (positional and ${…} parameters "
                "are not supported)",
                self._prev,
            )

        # ---- token helpers --------------------------------------------------------------

        def _st_is_word(self, word: str) -> bool:
            """Keyword test by text, so words sqlglot tokenizes as VAR (OWNER, CATALOG…)
            and real keyword tokens are treated alike; quoted text never matches."""
            token = self._curr
            return (
                bool(token)
                and token.token_type not in self.TEXT_MATCH_EXCLUDED_TOKENS
                and token.text.upper() == word
            )

        def _st_expect(self, word: str) -> None:
            if not self._st_is_word(word):
                self._st_fail(word)
            self._advance()

        def _st_expect_token(self, token_type: TokenType, shown: str) -> None:
            if self._curr.token_type != token_type:
                self._st_fail(shown)
            self._advance()

        def _st_one_of(self, words: Sequence[str]) -> str:
            for word in words:
                if self._st_is_word(word):
                    self._advance()
                    return word
            self._st_fail(_join_options(words))

        def _st_kind(self, kinds: Iterable[str]) -> str | None:
            """Match a (possibly two-word) kind keyword.

            A kind word followed by ``.`` is the start of a dotted name instead, so a bare
            ``GRANT SELECT ON model.s.t`` still means the table ``model.s.t``.
            """
            for kind in kinds:
                first, *rest = kind.split(" ")
                if self._st_is_word(first) and self._next.token_type != TokenType.DOT:
                    self._advance()
                    for word in rest:
                        self._st_expect(word)
                    return kind
            return None

        def _st_is_name_token(self, token: Token) -> bool:
            return bool(token) and _is_unquoted_name(token)

        def _st_at_bare_name(self) -> bool:
            """Whether a kind-less name (meaning TABLE) starts here.

            A securable kind word the statement does not take (``DESCRIBE FUNCTION f``) is
            not read as a table called ``function``: saying which kinds are allowed is the
            more useful error. Such names can still be written quoted or dotted.
            """
            token = self._curr
            if token.token_type == TokenType.IDENTIFIER:
                return True
            if not self._st_is_name_token(token):
                return False
            kind_word = token.text.upper() in _KIND_FIRST_WORDS
            return not kind_word or self._next.token_type == TokenType.DOT

        def _st_name_part(self, what: str) -> exp.Identifier:
            token = self._curr
            if token.token_type == TokenType.IDENTIFIER:
                if not token.text:
                    self._st_fail(f"{what}, not an empty quoted name")
            elif not self._st_is_name_token(token):
                self._st_fail(what)
            self._advance()
            return make_identifier(token.text)

        def _st_name(self, kind: str) -> exp.Table:
            limit = MAX_NAME_PARTS[kind]
            parts = [self._st_name_part(f"a {kind} name")]
            while self._curr.token_type == TokenType.DOT:
                if len(parts) >= limit:
                    raise _StewardParseError(
                        f"a {kind} name has at most {limit} part{'s' if limit > 1 else ''}",
                        self._curr,
                    )
                self._advance()
                parts.append(self._st_name_part("a name part after '.'"))
            return make_table(parts)

        def _st_text(self) -> exp.Expression:
            """A string literal or ``:parameter`` (the only values the grammar takes)."""
            if self._curr.token_type == TokenType.STRING:
                self._advance()
                return exp.Literal.string(self._prev.text)
            placeholder = self._parse_placeholder()
            if isinstance(placeholder, exp.Placeholder):
                return placeholder
            self._st_fail("a string literal or :parameter")

        def _st_version(self) -> exp.Expression:
            """A model version number or ``:parameter``."""
            if self._curr.token_type == TokenType.NUMBER:
                self._advance()
                return exp.Literal.number(self._prev.text)
            placeholder = self._parse_placeholder()
            if isinstance(placeholder, exp.Placeholder):
                return placeholder
            self._st_fail("a version number or :parameter")

        def _st_optional_comment(self) -> exp.Properties | None:
            if not self._st_is_word("COMMENT"):
                return None
            self._advance()
            return exp.Properties(expressions=[exp.SchemaCommentProperty(this=self._st_text())])

        def _st_if_not_exists(self) -> bool:
            if not self._st_is_word("IF"):
                return False
            self._advance()
            self._st_expect("NOT")
            self._st_expect("EXISTS")
            return True

        def _st_if_exists(self) -> bool:
            if not self._st_is_word("IF"):
                return False
            self._advance()
            self._st_expect("EXISTS")
            return True

        # ---- top level --------------------------------------------------------------------

        def _st_statement(self) -> exp.Expression:
            """Parse exactly one statement from the current chunk, consuming every token."""
            start = self._curr
            if not start:
                self._st_fail("a statement")
            if self._match_texts(self.STEWARD_STATEMENTS):
                statement = self.STEWARD_STATEMENTS[self._prev.text.upper()](self)
            elif start.token_type in self.QUERY_START_TOKENS:
                statement = self._st_query(start)
            else:
                self._st_fail(
                    "a statement: SELECT, INSERT, UPDATE, DELETE, MERGE, GRANT, REVOKE, SHOW, "
                    "ALTER, CREATE, DROP, DESCRIBE, COMMENT, USE, SET TAG or UNSET TAG"
                )
            if self._curr:
                self._st_fail("end of statement")
            return statement

        def _st_query(self, start: Token) -> exp.Expression:
            query = self._parse_statement()
            if not isinstance(query, exp.Query):
                self._st_fail("a query (SELECT …)", start)
            if query.find(exp.Command):
                # Belt and braces: sqlglot must never hand the executor raw text.
                self._st_fail("a supported query", start)
            if query.find(exp.Into):
                # SELECT … INTO creates a table; it is DDL in disguise, not a query.
                into = next(
                    (tok for tok in self._tokens if tok.token_type == TokenType.INTO), start
                )
                self._st_fail("a query without INTO", into)
            return query

        # ---- INSERT / MERGE ---------------------------------------------------------------

        def _st_insert(self) -> exp.Expression:
            """``INSERT INTO t [(cols)] VALUES … | query``: sqlglot's INSERT, narrowed."""
            start = self._prev
            if not self._st_is_word("INTO"):
                self._st_fail("INTO (INSERT OVERWRITE and other forms are not supported)")
            node = self._parse_insert()
            if not isinstance(node, exp.Insert):
                self._st_fail("INSERT INTO table", start)
            extra = [
                key
                for key, value in node.args.items()
                if value and key not in _INSERT_ARGS and not _is_false(value)
            ]
            target = node.this.this if isinstance(node.this, exp.Schema) else node.this
            if extra or not isinstance(target, exp.Table) or target.args.get("alias"):
                shown = _INSERT_CLAUSES.get(extra[0], extra[0].upper()) if extra else "this form"
                self._st_fail(
                    f"INSERT INTO table [(columns)] VALUES … | SELECT … ({shown} is not supported)",
                    start,
                )
            self._st_check_table_name(target, start)
            source = node.expression
            if not isinstance(source, exp.Values | exp.Query):
                self._st_fail("VALUES (…) or a query after the table name", self._curr or start)
            return node

        def _st_merge(self) -> exp.Expression:
            """``MERGE INTO t [[AS] a] USING src [[AS] s] ON cond WHEN …``: Databricks' MERGE."""
            start = self._prev
            if not self._st_is_word("INTO"):
                self._st_fail("INTO")
            node = self._parse_merge()
            target, using = node.this, node.args.get("using")
            if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
                self._st_fail("a table name after MERGE INTO", start)
            self._st_check_table_name(target, start)
            if not isinstance(using, exp.Table | exp.Subquery) or (
                isinstance(using, exp.Table) and not isinstance(using.this, exp.Identifier)
            ):
                self._st_fail("USING followed by a table or a (subquery)", start)
            if not node.args.get("on"):
                self._st_fail("ON followed by the merge condition", start)
            whens = node.args.get("whens")
            if whens is None or not whens.expressions:
                self._st_fail("WHEN [NOT] MATCHED … THEN …", self._curr or start)
            for when in whens.expressions:
                self._st_check_when(when, start)
            if node.args.get("returning") or node.args.get("using_cond"):
                self._st_fail("WHEN [NOT] MATCHED … THEN …", start)
            return node

        def _st_update(self) -> exp.Expression:
            """``UPDATE t [[AS] a] SET col = expr, … [WHERE cond]``: Databricks' UPDATE."""
            start = self._prev
            target = self._parse_table(alias_tokens=self.UPDATE_ALIAS_TOKENS)
            if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
                self._st_fail("a table name after UPDATE", start)
            self._st_check_table_name(target, start)
            self._st_expect("SET")
            assignments = self._parse_csv(self._parse_equality)
            for assignment in assignments:
                if not (isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column)):
                    self._st_fail("column = value after SET", start)
                if assignment.this.table:
                    self._st_fail("an unqualified column name after SET", start)
            where = self._parse_where()
            node = exp.Update(this=target, expressions=assignments, where=where)
            if node.find(exp.Command):
                self._st_fail("a supported expression", start)
            return node

        def _st_delete(self) -> exp.Expression:
            """``DELETE FROM t [[AS] a] [WHERE cond]``: Databricks' DELETE."""
            start = self._prev
            self._st_expect("FROM")
            target = self._parse_table()
            if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
                self._st_fail("a table name after DELETE FROM", start)
            self._st_check_table_name(target, start)
            node = exp.Delete(this=target, where=self._parse_where())
            if node.find(exp.Command):
                self._st_fail("a supported condition", start)
            return node

        def _st_check_when(self, when: exp.When, start: Token) -> None:
            then = when.args.get("then")
            if when.args.get("source"):
                self._st_fail(
                    "WHEN MATCHED or WHEN NOT MATCHED (WHEN NOT MATCHED BY SOURCE is not "
                    "supported)",
                    start,
                )
            if when.args.get("matched"):
                ok = (isinstance(then, exp.Var) and then.name.upper() == "DELETE") or (
                    isinstance(then, exp.Update)
                    and then.expressions
                    and not then.args.get("where")
                    and (
                        (len(then.expressions) == 1 and isinstance(then.expressions[0], exp.Star))
                        or all(
                            isinstance(e, exp.EQ) and isinstance(e.this, exp.Column)
                            for e in then.expressions
                        )
                    )
                )
                if not ok:
                    self._st_fail(
                        "THEN UPDATE SET * | UPDATE SET column = value, … | DELETE after "
                        "WHEN MATCHED",
                        start,
                    )
                return
            ok = isinstance(then, exp.Insert) and not then.args.get("where")
            if ok and not isinstance(then.this, exp.Star):
                columns, values = then.this, then.expression
                ok = (
                    isinstance(columns, exp.Tuple)
                    and isinstance(values, exp.Tuple)
                    and all(isinstance(c, exp.Column) and not c.table for c in columns.expressions)
                    and len(columns.expressions) == len(values.expressions)
                )
            if not ok:
                self._st_fail(
                    "THEN INSERT * | INSERT (columns) VALUES (values, one per column) after "
                    "WHEN NOT MATCHED",
                    start,
                )

        def _st_check_table_name(self, table: exp.Table, start: Token) -> None:
            parts = table.parts
            if len(parts) > 3 or not all(isinstance(p, exp.Identifier) for p in parts):
                self._st_fail("a table name of at most 3 parts (catalog.schema.table)", start)
            extra = [k for k, v in table.args.items() if v and k not in _TABLE_NAME_ARGS]
            if extra:
                self._st_fail(
                    f"a plain table name ({extra[0].upper()} is not supported here)", start
                )

        # ---- GRANT / REVOKE / SHOW GRANTS ---------------------------------------------------

        def _st_privilege(self) -> exp.GrantPrivilege:
            node = _PRIVILEGE_TRIE
            words: list[str] = []
            while self._curr and self._curr.token_type not in self.TEXT_MATCH_EXCLUDED_TOKENS:
                word = self._curr.text.upper()
                if word == _PRIVILEGE_END or word not in node:
                    break
                words.append(word)
                node = node[word]
                self._advance()
            if words and _PRIVILEGE_END in node:
                spelled = " ".join(words).replace("_", " ")
                return exp.GrantPrivilege(this=exp.Var(this=spelled))
            if not words:
                self._st_fail("a privilege such as SELECT, USE CATALOG or ALL PRIVILEGES")
            self._st_fail(_join_options(sorted(w for w in node if w != _PRIVILEGE_END)))

        def _st_securable(self) -> Securable:
            kind = self._st_kind(SECURABLE_KINDS)
            if kind is None:
                if not self._st_at_bare_name():
                    self._st_fail(
                        "a securable: METASTORE, CATALOG, SCHEMA, TABLE, MODEL, FUNCTION, "
                        "SERVING ENDPOINT or a table name"
                    )
                kind = TABLE
            if kind == METASTORE:
                return Securable(kind=kind)
            return Securable(kind=kind, this=self._st_name(kind))

        def _st_principal(self) -> exp.GrantPrincipal:
            return exp.GrantPrincipal(this=self._st_name_part("a principal"))

        def _st_grant(self, node_type: type[exp.Expression], preposition: str) -> exp.Expression:
            privileges = [self._st_privilege()]
            while self._match(TokenType.COMMA):
                privileges.append(self._st_privilege())
            if not self._st_is_word("ON"):
                self._st_fail("',' or ON")
            self._advance()
            securable = self._st_securable()
            self._st_expect(preposition)
            principals = [self._st_principal()]
            while self._match(TokenType.COMMA):
                principals.append(self._st_principal())
            return node_type(privileges=privileges, securable=securable, principals=principals)

        def _st_show(self) -> exp.Expression:
            what = self._st_one_of(_SHOW_WHAT)
            if what == "GRANTS":
                principal = None
                to = self._st_is_word("TO")
                if to:
                    self._advance()
                if to or not self._st_is_word("ON"):
                    principal = self._st_name_part("a principal or ON")
                if to or not self._curr:
                    return ShowGrants(this=principal)
                self._st_expect("ON")
                return ShowGrants(this=principal, securable=self._st_securable())
            if what in ("GROUPS", "USERS"):
                return ShowPrincipals(kind=what)
            if what == "POLICIES":
                self._st_expect("ON")
                return ShowPolicies(on=self._st_policy_target())
            scope = None
            if what != "CATALOGS" and (self._st_is_word("IN") or self._st_is_word("FROM")):
                self._advance()
                scope = self._st_name(CATALOG if what == "SCHEMAS" else SCHEMA)
            return ShowObjects(kind=what, this=scope)

        # ---- ALTER -------------------------------------------------------------------------

        def _st_alter(self) -> exp.Expression:
            kind = self._st_kind((*OBJECT_KINDS, "GROUP"))
            if kind is None:
                self._st_fail(_join_options([*OBJECT_KINDS, "GROUP"]))
            if kind == "GROUP":
                group = self._st_name_part("a group name")
                action = self._st_one_of(("ADD", "REMOVE"))
                member_kind = self._st_one_of(("USER", "GROUP"))
                member = self._st_name_part(f"a {member_kind.lower()} name")
                return AlterGroupMembers(this=group, action=action, kind=member_kind, member=member)
            securable = Securable(kind=kind, this=self._st_name(kind))
            tags = self._st_alter_tags(securable)
            if tags is not None:
                return tags
            if kind == TABLE:
                policy = self._st_alter_table_policy(securable)
                if policy is not None:
                    return policy
                change = self._st_alter_table_definition(securable)
                if change is not None:
                    return change
            is_model = kind in (MODEL, FUNCTION)
            if is_model and self._st_is_word("DROP"):
                self._advance()
                self._st_expect("ALIAS")
                return AlterModelAlias(this=securable, alias=self._st_name_part("an alias name"))
            if self._st_is_word("SET"):
                self._advance()
                if is_model and self._st_is_word("ALIAS"):
                    self._advance()
                    alias = self._st_name_part("an alias name")
                    self._st_expect_token(TokenType.EQ, "'='")
                    return AlterModelAlias(this=securable, alias=alias, version=self._st_version())
            elif not self._st_is_word("OWNER"):
                if is_model:
                    self._st_fail("OWNER, SET OWNER, SET ALIAS or DROP ALIAS")
                if kind == TABLE:
                    self._st_fail(
                        "OWNER, SET OWNER, SET TAGS, UNSET TAGS, SET ROW FILTER, "
                        "DROP ROW FILTER or ALTER COLUMN"
                    )
                self._st_fail("OWNER, SET OWNER, SET TAGS or UNSET TAGS")
            self._st_expect("OWNER")
            self._st_expect("TO")
            return AlterOwner(this=securable, principal=self._st_name_part("a principal"))

        # ---- CREATE / DROP -----------------------------------------------------------------

        def _st_create(self) -> exp.Expression:
            replace = False
            if self._st_is_word("OR"):
                self._advance()
                self._st_expect("REPLACE")
                replace = True
                if not any(self._st_is_word(w) for w in (TABLE, VIEW, FUNCTION, "POLICY")):
                    self._st_fail("TABLE, VIEW, FUNCTION or POLICY after OR REPLACE")
            kind = self._st_kind((CATALOG, SCHEMA, TABLE, VIEW, FUNCTION, "GROUP", "POLICY"))
            if kind is None:
                self._st_fail("CATALOG, SCHEMA, TABLE, VIEW, FUNCTION, POLICY or GROUP")
            if kind == FUNCTION:
                return self._st_create_function(replace)
            if kind == "POLICY":
                return self._st_create_policy(replace)
            if kind == "GROUP":
                return CreateGroup(this=self._st_name_part("a group name"))
            exists = self._st_if_not_exists()
            if exists and replace:
                self._st_fail("no IF NOT EXISTS after OR REPLACE", self._prev)
            name = self._st_name(TABLE if kind == VIEW else kind)
            if kind in (TABLE, VIEW) and (
                kind == VIEW or not self._curr or self._curr.token_type != TokenType.L_PAREN
            ):
                # CREATE TABLE … AS SELECT and CREATE VIEW … AS SELECT.
                comment = self._st_optional_comment()
                self._st_expect("AS")
                start = self._curr
                if not start or start.token_type not in self.QUERY_START_TOKENS:
                    self._st_fail("a query (SELECT …) after AS", start)
                return exp.Create(
                    kind=kind,
                    this=name,
                    exists=exists,
                    replace=replace,
                    properties=comment,
                    expression=self._st_query(start),
                )
            if kind == TABLE:
                schema = self._st_table_elements(name)
                node = exp.Create(
                    kind=kind,
                    this=schema,
                    exists=exists,
                    replace=replace,
                    properties=self._st_optional_comment(),
                )
                if self._st_is_word("WITH"):
                    self._advance()
                    self._st_expect("ROW")
                    self._st_expect("FILTER")
                    node.set("row_filter", self._st_row_filter_clause())
                return node
            return exp.Create(
                kind=kind, this=name, exists=exists, properties=self._st_optional_comment()
            )

        def _st_table_elements(self, name: exp.Table) -> exp.Schema:
            self._st_expect_token(TokenType.L_PAREN, "'(' and column definitions")
            elements: list[exp.Expression] = []
            has_key = False
            while True:
                if self._st_is_word("CONSTRAINT"):
                    if has_key:
                        raise _StewardParseError(
                            "a table has at most one PRIMARY KEY constraint", self._curr
                        )
                    self._advance()
                    elements.append(self._st_primary_key())
                    has_key = True
                else:
                    elements.append(self._st_column_def())
                if self._match(TokenType.COMMA):
                    continue
                if self._match(TokenType.R_PAREN):
                    break
                self._st_fail("',' or ')'")
            if not any(isinstance(e, exp.ColumnDef) for e in elements):
                self._st_fail("at least one column definition", self._prev)
            return exp.Schema(this=name, expressions=elements)

        def _st_column_def(self) -> exp.ColumnDef:
            name = self._st_name_part("a column name or CONSTRAINT")
            type_start, index = self._curr, self._index
            data_type = self._parse_types(check_func=False, schema=True, allow_identifiers=False)
            if not _faithful_type(data_type):
                self._retreat(index)
                self._st_fail("a column type such as STRING, BIGINT or DECIMAL(10, 2)", type_start)
            not_null = False
            comment: exp.Expression | None = None
            mask: ColumnMaskClause | None = None
            while True:
                if self._st_is_word("MASK"):
                    if mask is not None:
                        raise _StewardParseError("MASK given twice", self._curr)
                    self._advance()
                    mask = self._st_mask_clause()
                elif self._st_is_word("NOT"):
                    if not_null:
                        raise _StewardParseError("NOT NULL given twice", self._curr)
                    self._advance()
                    self._st_expect("NULL")
                    not_null = True
                elif self._st_is_word("COMMENT"):
                    if comment is not None:
                        raise _StewardParseError("COMMENT given twice", self._curr)
                    self._advance()
                    comment = self._st_text()
                else:
                    break
            # Canonical order (NOT NULL, then COMMENT) so equal columns are equal trees.
            constraints: list[exp.Expression] = []
            if not_null:
                constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
            if comment is not None:
                constraints.append(
                    exp.ColumnConstraint(kind=exp.CommentColumnConstraint(this=comment))
                )
            if mask is not None:
                constraints.append(exp.ColumnConstraint(kind=mask))
            return exp.ColumnDef(this=name, kind=data_type, constraints=constraints or None)

        # ---- functions, row filters, column masks -------------------------------------------

        def _st_type(self, what: str) -> exp.DataType:
            type_start, index = self._curr, self._index
            data_type = self._parse_types(check_func=False, schema=True, allow_identifiers=False)
            if not _faithful_type(data_type):
                self._retreat(index)
                self._st_fail(f"{what} such as STRING, BIGINT or DECIMAL(10, 2)", type_start)
            assert isinstance(data_type, exp.DataType)
            return data_type

        def _st_create_function(self, replace: bool) -> CreateFunction:
            exists = self._st_if_not_exists()
            if exists and replace:
                self._st_fail("no IF NOT EXISTS after OR REPLACE", self._prev)
            name = self._st_name(FUNCTION)
            self._st_expect_token(TokenType.L_PAREN, "'(' and the parameters")
            params: list[exp.ColumnDef] = []
            if not self._match(TokenType.R_PAREN):
                while True:
                    param = self._st_name_part("a parameter name")
                    params.append(exp.ColumnDef(this=param, kind=self._st_type("a type")))
                    if self._match(TokenType.COMMA):
                        continue
                    if self._match(TokenType.R_PAREN):
                        break
                    self._st_fail("',' or ')'")
            returns = None
            if self._st_is_word("RETURNS"):
                self._advance()
                if self._st_is_word("TABLE"):
                    self._st_fail("a scalar type (table functions are not supported)")
                returns = self._st_type("a return type")
            comment = None
            if self._st_is_word("COMMENT"):
                self._advance()
                comment = self._st_text()
            if not self._st_is_word("RETURN"):
                self._st_fail("RETURN and the function's expression")
            self._advance()
            start = self._curr
            body = self._parse_assignment()
            if body is None:
                self._st_fail("an expression after RETURN", start)
            if body.find(exp.Command, exp.Query):
                self._st_fail("an expression (queries are not supported in functions)", start)
            return CreateFunction(
                this=name,
                params=params,
                returns=returns,
                body=body,
                replace=replace,
                exists=exists,
                comment=comment,
            )

        def _st_wrapped_names(self, what: str) -> list[exp.Identifier]:
            self._st_expect_token(TokenType.L_PAREN, "'('")
            names = [self._st_name_part(what)]
            while self._match(TokenType.COMMA):
                names.append(self._st_name_part(what))
            self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
            return names

        def _st_row_filter_clause(self) -> RowFilterClause:
            function = self._st_name(FUNCTION)
            self._st_expect("ON")
            self._st_expect_token(TokenType.L_PAREN, "'(' and the columns the filter reads")
            columns: list[exp.Identifier] = []
            if not self._match(TokenType.R_PAREN):
                columns.append(self._st_name_part("a column name"))
                while self._match(TokenType.COMMA):
                    columns.append(self._st_name_part("a column name"))
                self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
            return RowFilterClause(this=function, expressions=columns)

        def _st_mask_clause(self) -> ColumnMaskClause:
            function = self._st_name(FUNCTION)
            using: list[exp.Identifier] = []
            if self._st_is_word("USING"):
                self._advance()
                self._st_expect("COLUMNS")
                using = self._st_wrapped_names("a column name")
            return ColumnMaskClause(this=function, expressions=using)

        def _st_alter_table_policy(self, table: Securable) -> exp.Expression | None:
            """``SET ROW FILTER`` / ``DROP ROW FILTER`` / ``ALTER COLUMN c SET|DROP MASK``
            after ``ALTER TABLE name``; None when the statement is something else."""
            index = self._index
            if self._st_is_word("SET") or self._st_is_word("DROP"):
                action = self._curr.text.upper()
                self._advance()
                if not self._st_is_word("ROW"):
                    self._retreat(index)
                    return None
                self._advance()
                self._st_expect("FILTER")
                if action == "DROP":
                    return AlterRowFilter(this=table)
                return AlterRowFilter(this=table, filter=self._st_row_filter_clause())
            if not self._st_is_word("ALTER"):
                return None
            self._advance()
            if self._st_is_word("COLUMN"):
                self._advance()
            column = self._st_name_part("a column name")
            tags = self._st_alter_tags(table, column)
            if tags is not None:
                return tags
            action = self._st_one_of(("SET", "DROP"))
            self._st_expect("MASK")
            if action == "DROP":
                return AlterColumnMask(this=table, column=column)
            return AlterColumnMask(this=table, column=column, mask=self._st_mask_clause())

        # ---- governed tags and ABAC policies --------------------------------------------

        def _st_tag_word(self, what: str) -> exp.Literal:
            """A tag key or value in ``SET TAG ON``: a name, a back-quoted name or a string."""
            token = self._curr
            if token.token_type == TokenType.STRING or (
                token.token_type == TokenType.IDENTIFIER and token.text
            ):
                self._advance()
                return exp.Literal.string(token.text)
            return exp.Literal.string(self._st_name_part(what).name)

        def _st_tag_statement(self, unset: bool) -> AlterTags:
            """``SET TAG ON kind name key [= value]`` / ``UNSET TAG ON kind name key``."""
            self._st_expect("TAG")
            self._st_expect("ON")
            kind = self._st_kind(_TAGGED_KINDS)
            if kind is None:
                self._st_fail(_join_options(_TAGGED_KINDS))
            column = None
            if kind == "COLUMN":
                parts = [self._st_name_part("a column name")]
                while self._curr.token_type == TokenType.DOT and len(parts) < 4:
                    self._advance()
                    parts.append(self._st_name_part("a name part after '.'"))
                if len(parts) < 2:
                    self._st_fail("'.' and the column (COLUMN table.column)")
                column, name, kind = parts[-1], make_table(parts[:-1]), TABLE
            else:
                name = self._st_name(kind)
            key = self._st_tag_word("a tag key")
            value = None
            if not unset and self._match(TokenType.EQ):
                value = self._st_tag_word("a tag value")
            return AlterTags(
                this=Securable(kind=kind, this=name),
                column=column,
                expressions=[TagAssignment(this=key, expression=value)],
                unset=unset,
                single=True,
            )

        def _st_alter_tags(
            self, securable: Securable, column: exp.Identifier | None = None
        ) -> AlterTags | None:
            """``SET TAGS ('k' = 'v', …)`` / ``UNSET TAGS ('k', …)`` after ``ALTER kind name``
            (or ``ALTER COLUMN c``); None when the statement is something else."""
            index = self._index
            if not (self._st_is_word("SET") or self._st_is_word("UNSET")):
                return None
            unset = self._curr.text.upper() == "UNSET"
            self._advance()
            if not self._st_is_word("TAGS"):
                self._retreat(index)
                return None
            self._advance()
            self._st_expect_token(TokenType.L_PAREN, "'(' and the tags")
            tags: list[TagAssignment] = []
            while True:
                if self._curr.token_type != TokenType.STRING:
                    self._st_fail("a tag key as a string literal")
                self._advance()
                key = exp.Literal.string(self._prev.text)
                value = None
                if not unset and self._match(TokenType.EQ):
                    if self._curr.token_type != TokenType.STRING:
                        self._st_fail("a tag value as a string literal")
                    self._advance()
                    value = exp.Literal.string(self._prev.text)
                tags.append(TagAssignment(this=key, expression=value))
                if self._match(TokenType.COMMA):
                    continue
                self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
                break
            return AlterTags(this=securable, column=column, expressions=tags, unset=unset)

        def _st_policy_target(self) -> Securable:
            kind = self._st_kind(_POLICY_KINDS)
            if kind is None:
                self._st_fail(_join_options(_POLICY_KINDS))
            return Securable(kind=kind, this=self._st_name(kind))

        def _st_principal_list(self) -> list[exp.Identifier]:
            names = [self._st_name_part("a principal")]
            while self._match(TokenType.COMMA):
                names.append(self._st_name_part("a principal"))
            return names

        def _st_tag_condition(self) -> exp.Expression:
            """A condition over tags: ``has_tag('k')``, ``has_tag_value('k', 'v')``, combined
            with AND, OR, NOT and parentheses; anything else is an error at its place."""
            start = self._curr
            condition = self._parse_assignment()
            if condition is None:
                self._st_fail("has_tag('key') or has_tag_value('key', 'value')", start)
            for node in condition.walk():
                if isinstance(node, exp.And | exp.Or | exp.Not | exp.Paren):
                    continue
                if isinstance(node, exp.Literal) and isinstance(node.parent, exp.Anonymous):
                    continue
                arity = (
                    _TAG_TESTS.get(node.name.lower()) if isinstance(node, exp.Anonymous) else None
                )
                arguments = node.expressions if isinstance(node, exp.Anonymous) else []
                if (
                    arity is not None
                    and len(arguments) == arity
                    and all(isinstance(a, exp.Literal) and a.is_string for a in arguments)
                ):
                    continue
                raise _StewardParseError(
                    "expected has_tag('key') or has_tag_value('key', 'value') (with AND, OR, "
                    f"NOT), not {_shorten(node.sql(dialect='databricks'))}",
                    start,
                )
            return condition

        def _st_create_policy(self, replace: bool) -> CreatePolicy:
            name = self._st_name_part("a policy name")
            self._st_expect("ON")
            on = self._st_policy_target()
            comment = None
            if self._st_is_word("COMMENT"):
                self._advance()
                comment = self._st_text()
            kind = self._st_kind((POLICY_ROW_FILTER, POLICY_COLUMN_MASK))
            if kind is None:
                self._st_fail("ROW FILTER or COLUMN MASK")
            function = self._st_name(FUNCTION)
            on_column = None
            #: Alias references with where they were written, checked once MATCH is read.
            references: list[tuple[exp.Identifier, Token]] = []
            if kind == POLICY_COLUMN_MASK and self._st_is_word("ON"):
                self._advance()
                self._st_expect("COLUMN")
                references.append((self._st_name_part("the masked column's alias"), self._prev))
                on_column = references[-1][0]
            self._st_expect("TO")
            to = self._st_principal_list()
            except_: list[exp.Identifier] = []
            if self._match(TokenType.EXCEPT):
                except_ = self._st_principal_list()
            self._st_expect("FOR")
            self._st_expect("TABLES")
            when = None
            if self._st_is_word("WHEN"):
                self._advance()
                when = self._st_tag_condition()
            match: list[MatchColumn] = []
            if self._st_is_word("MATCH"):
                self._advance()
                self._st_expect("COLUMNS")
                while True:
                    condition = self._st_tag_condition()
                    self._match(TokenType.ALIAS)
                    alias = self._st_name_part("an alias for the matched column (AS a)")
                    match.append(MatchColumn(this=condition, alias=alias))
                    if not self._match(TokenType.COMMA):
                        break
            if kind == POLICY_COLUMN_MASK and on_column is None:
                if not self._st_is_word("ON"):
                    self._st_fail("ON COLUMN and the alias of the masked column")
                self._advance()
                self._st_expect("COLUMN")
                references.append((self._st_name_part("the masked column's alias"), self._prev))
                on_column = references[-1][0]
            using: list[exp.Expression] = []
            if self._st_is_word("USING"):
                self._advance()
                self._st_expect("COLUMNS")
                self._st_expect_token(TokenType.L_PAREN, "'('")
                while True:
                    if self._curr.token_type in (TokenType.STRING, TokenType.NUMBER):
                        literal = self._curr
                        self._advance()
                        using.append(
                            exp.Literal.string(literal.text)
                            if literal.token_type == TokenType.STRING
                            else exp.Literal.number(literal.text)
                        )
                    else:
                        using.append(self._st_name_part("a column alias or a literal"))
                        references.append((using[-1], self._prev))
                    if not self._match(TokenType.COMMA):
                        break
                self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
            aliases = {m.args["alias"].name.lower() for m in match}
            for reference, token in references:
                if reference.name.lower() not in aliases:
                    raise _StewardParseError(
                        f"expected an alias given in MATCH COLUMNS, not '{reference.name}'",
                        token,
                    )
            return CreatePolicy(
                this=name,
                on=on,
                kind=kind,
                function=function,
                to=to,
                except_=except_,
                when=when,
                match=match,
                on_column=on_column,
                using=using,
                replace=replace,
                comment=comment,
            )

        def _st_alter_table_definition(self, table: Securable) -> exp.Expression | None:
            """``ADD COLUMN[S] (col TYPE …, …)``, ``SET TBLPROPERTIES ('k' = 'v', …)`` and
            ``UNSET TBLPROPERTIES [IF EXISTS] ('k', …)`` after ``ALTER TABLE name``; None
            when the statement is something else."""
            index = self._index
            if self._st_is_word("ADD"):
                self._advance()
                if not (self._st_is_word("COLUMNS") or self._st_is_word("COLUMN")):
                    self._st_fail("COLUMNS or COLUMN after ADD")
                self._advance()
                wrapped = self._match(TokenType.L_PAREN)
                columns = [self._st_column_def()]
                while self._match(TokenType.COMMA):
                    columns.append(self._st_column_def())
                if wrapped:
                    self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
                return AlterAddColumns(this=table, expressions=columns)
            if not (self._st_is_word("SET") or self._st_is_word("UNSET")):
                return None
            unset = self._curr.text.upper() == "UNSET"
            self._advance()
            if not self._st_is_word("TBLPROPERTIES"):
                self._retreat(index)
                return None
            self._advance()
            exists = unset and self._st_if_exists()
            self._st_expect_token(TokenType.L_PAREN, "'(' and the properties")
            properties: list[exp.Property] = []
            while True:
                if self._curr.token_type != TokenType.STRING:
                    self._st_fail("a property key as a string literal")
                self._advance()
                key = exp.Literal.string(self._prev.text)
                value = None
                if not unset:
                    self._st_expect_token(TokenType.EQ, "'=' and the property's value")
                    if self._curr.token_type != TokenType.STRING:
                        self._st_fail("a property value as a string literal")
                    self._advance()
                    value = exp.Literal.string(self._prev.text)
                properties.append(exp.Property(this=key, value=value))
                if self._match(TokenType.COMMA):
                    continue
                self._st_expect_token(TokenType.R_PAREN, "',' or ')'")
                break
            return AlterTableProperties(
                this=table, expressions=properties, unset=unset, exists=exists
            )

        def _st_use(self) -> UseNamespace:
            kind = self._st_kind((CATALOG, SCHEMA, "DATABASE"))
            if kind == "DATABASE":
                kind = SCHEMA
            if kind == CATALOG:
                return UseNamespace(kind=CATALOG, this=self._st_name(CATALOG))
            if kind is None and not self._st_at_bare_name():
                self._st_fail("CATALOG, SCHEMA or a schema name")
            return UseNamespace(kind=SCHEMA, this=self._st_name(SCHEMA))

        def _st_primary_key(self) -> exp.Constraint:
            constraint_name = self._st_name_part("a constraint name")
            if self._curr.token_type == TokenType.PRIMARY_KEY:
                self._advance()
            else:
                self._st_expect("PRIMARY")
                self._st_expect("KEY")
            self._st_expect_token(TokenType.L_PAREN, "'('")
            keys: list[exp.Expression] = []
            has_timeseries = False
            while True:
                key: exp.Expression = self._st_name_part("a key column name")
                if self._st_is_word("TIMESERIES"):
                    if has_timeseries:
                        raise _StewardParseError(
                            "at most one key column may be TIMESERIES", self._curr
                        )
                    self._advance()
                    key = exp.TimeseriesKey(this=key)
                    has_timeseries = True
                keys.append(key)
                if self._match(TokenType.COMMA):
                    continue
                if self._match(TokenType.R_PAREN):
                    break
                self._st_fail("',' or ')'")
            return exp.Constraint(
                this=constraint_name, expressions=[exp.PrimaryKey(expressions=keys)]
            )

        def _st_drop(self) -> exp.Expression:
            kind = self._st_kind((CATALOG, SCHEMA, TABLE, VIEW, MODEL, FUNCTION, "GROUP", "POLICY"))
            if kind is None:
                self._st_fail("CATALOG, SCHEMA, TABLE, VIEW, MODEL, FUNCTION, POLICY or GROUP")
            if kind == "GROUP":
                return DropGroup(this=self._st_name_part("a group name"))
            if kind == "POLICY":
                exists = self._st_if_exists()
                name = self._st_name_part("a policy name")
                self._st_expect("ON")
                return DropPolicy(this=name, on=self._st_policy_target(), exists=exists)
            exists = self._st_if_exists()
            name = self._st_name(TABLE if kind == VIEW else kind)
            cascade = False
            if kind in (CATALOG, SCHEMA) and self._st_is_word("CASCADE"):
                self._advance()
                cascade = True
            return exp.Drop(kind=kind, tables=[name], exists=exists, cascade=cascade)

        # ---- DESCRIBE / COMMENT ON --------------------------------------------------------

        def _st_describe(self) -> exp.Expression:
            kind = self._st_kind((TABLE, MODEL, FUNCTION, CATALOG, SCHEMA))
            if kind is None and not self._st_at_bare_name():
                self._st_fail("TABLE, MODEL, FUNCTION, CATALOG, SCHEMA or a table name")
            kind = kind or TABLE
            extended = kind in (TABLE, FUNCTION) and self._st_is_word("EXTENDED")
            if extended:
                self._advance()
            node = exp.Describe(this=self._st_name(kind), kind=kind)
            if extended:
                node.set("style", "EXTENDED")
            return node

        def _st_comment(self) -> exp.Expression:
            self._st_expect("ON")
            kind = self._st_kind(OBJECT_KINDS)
            if kind is None:
                self._st_fail(_join_options(OBJECT_KINDS))
            name = self._st_name(kind)
            self._st_expect("IS")
            if self._st_is_word("NULL"):
                self._advance()
                value: exp.Expression = exp.Null()
            else:
                value = self._st_text()
            return exp.Comment(this=name, kind=kind, expression=value)

    class Generator(Databricks.Generator):
        """Canonical SQL for the Steward nodes; everything else is Databricks' generator."""

        TRANSFORMS: ClassVar[dict[type[exp.Expr], Callable[..., str]]] = {
            **Databricks.Generator.TRANSFORMS,
            Securable: lambda self, e: self.securable_sql(e),
            ShowGrants: lambda self, e: self.showgrants_sql(e),
            AlterOwner: lambda self, e: self.alterowner_sql(e),
            AlterModelAlias: lambda self, e: self.altermodelalias_sql(e),
            CreateGroup: lambda self, e: f"CREATE GROUP {self.sql(e, 'this')}",
            DropGroup: lambda self, e: f"DROP GROUP {self.sql(e, 'this')}",
            AlterGroupMembers: lambda self, e: self.altergroupmembers_sql(e),
            ShowPrincipals: lambda self, e: f"SHOW {e.args['kind']}",
            ShowObjects: lambda self, e: self.showobjects_sql(e),
            CreateFunction: lambda self, e: self.createfunction_sql(e),
            RowFilterClause: lambda self, e: self.rowfilterclause_sql(e),
            ColumnMaskClause: lambda self, e: self.columnmaskclause_sql(e),
            AlterRowFilter: lambda self, e: self.alterrowfilter_sql(e),
            AlterColumnMask: lambda self, e: self.altercolumnmask_sql(e),
            UseNamespace: lambda self, e: f"USE {e.args['kind']} {self.sql(e, 'this')}",
            AlterTags: lambda self, e: self.altertags_sql(e),
            AlterAddColumns: lambda self, e: (
                f"ALTER {self.sql(e, 'this')} ADD COLUMNS ({self.expressions(e, flat=True)})"
            ),
            AlterTableProperties: lambda self, e: self.altertableproperties_sql(e),
            CreatePolicy: lambda self, e: self.createpolicy_sql(e),
            DropPolicy: lambda self, e: self.droppolicy_sql(e),
            ShowPolicies: lambda self, e: f"SHOW POLICIES ON {self.sql(e, 'on')}",
            MatchColumn: lambda self, e: f"{self.sql(e, 'this')} AS {self.sql(e, 'alias')}",
        }

        def altertags_sql(self, expression: AlterTags) -> str:
            securable: Securable = expression.this
            column = expression.args.get("column")
            unset = bool(expression.args.get("unset"))
            tags: list[TagAssignment] = expression.expressions
            if expression.args.get("single"):
                (tag,) = tags
                target = self.sql(securable)
                if column is not None:
                    target = f"COLUMN {self.sql(securable, 'this')}.{self.sql(column)}"
                sql = f"{'UNSET' if unset else 'SET'} TAG ON {target} "
                sql += self.sql(make_identifier(tag.this.name))
                value = tag.args.get("expression")
                return sql if value is None else f"{sql} = {self.sql(make_identifier(value.name))}"
            head = f"ALTER {self.sql(securable)}"
            if column is not None:
                head += f" ALTER COLUMN {self.sql(column)}"
            shown = ", ".join(
                self.sql(tag, "this")
                + (f" = {self.sql(tag, 'expression')}" if tag.args.get("expression") else "")
                for tag in tags
            )
            return f"{head} {'UNSET' if unset else 'SET'} TAGS ({shown})"

        def altertableproperties_sql(self, expression: AlterTableProperties) -> str:
            items = ", ".join(
                self.sql(p, "this")
                + (f" = {self.sql(p, 'value')}" if p.args.get("value") is not None else "")
                for p in expression.expressions
            )
            if expression.args.get("unset"):
                exists = " IF EXISTS" if expression.args.get("exists") else ""
                return f"ALTER {self.sql(expression, 'this')} UNSET TBLPROPERTIES{exists} ({items})"
            return f"ALTER {self.sql(expression, 'this')} SET TBLPROPERTIES ({items})"

        def createpolicy_sql(self, expression: CreatePolicy) -> str:
            head = "CREATE OR REPLACE POLICY" if expression.args.get("replace") else "CREATE POLICY"
            sql = f"{head} {self.sql(expression, 'this')} ON {self.sql(expression, 'on')}"
            if expression.args.get("comment") is not None:
                sql += f" COMMENT {self.sql(expression, 'comment')}"
            sql += f" {expression.args['kind']} {self.sql(expression, 'function')}"
            if expression.args.get("on_column") is not None:
                sql += f" ON COLUMN {self.sql(expression, 'on_column')}"
            sql += " TO " + ", ".join(self.sql(p) for p in expression.args["to"])
            if expression.args.get("except_"):
                sql += " EXCEPT " + ", ".join(self.sql(p) for p in expression.args["except_"])
            sql += " FOR TABLES"
            if expression.args.get("when") is not None:
                sql += f" WHEN {self.sql(expression, 'when')}"
            if expression.args.get("match"):
                sql += " MATCH COLUMNS " + ", ".join(self.sql(m) for m in expression.args["match"])
            if expression.args.get("using"):
                sql += (
                    " USING COLUMNS ("
                    + ", ".join(self.sql(u) for u in expression.args["using"])
                    + ")"
                )
            return sql

        def droppolicy_sql(self, expression: DropPolicy) -> str:
            exists = " IF EXISTS" if expression.args.get("exists") else ""
            name, on = self.sql(expression, "this"), self.sql(expression, "on")
            return f"DROP POLICY{exists} {name} ON {on}"

        def create_sql(self, expression: exp.Create) -> str:
            sql = super().create_sql(expression)
            row_filter = expression.args.get("row_filter")
            return f"{sql} WITH {self.sql(row_filter)}" if row_filter else sql

        def createfunction_sql(self, expression: CreateFunction) -> str:
            head = (
                "CREATE OR REPLACE FUNCTION"
                if expression.args.get("replace")
                else (
                    "CREATE FUNCTION IF NOT EXISTS"
                    if expression.args.get("exists")
                    else ("CREATE FUNCTION")
                )
            )
            params = ", ".join(
                f"{self.sql(p, 'this')} {self.sql(p, 'kind')}"
                for p in expression.args.get("params") or []
            )
            sql = f"{head} {self.sql(expression, 'this')}({params})"
            if expression.args.get("returns") is not None:
                sql += f" RETURNS {self.sql(expression, 'returns')}"
            if expression.args.get("comment") is not None:
                sql += f" COMMENT {self.sql(expression, 'comment')}"
            return f"{sql} RETURN {self.sql(expression, 'body')}"

        def _names_sql(self, expression: exp.Expression) -> str:
            return ", ".join(self.sql(e) for e in expression.expressions)

        def rowfilterclause_sql(self, expression: RowFilterClause) -> str:
            return f"ROW FILTER {self.sql(expression, 'this')} ON ({self._names_sql(expression)})"

        def columnmaskclause_sql(self, expression: ColumnMaskClause) -> str:
            sql = f"MASK {self.sql(expression, 'this')}"
            if expression.expressions:
                sql += f" USING COLUMNS ({self._names_sql(expression)})"
            return sql

        def alterrowfilter_sql(self, expression: AlterRowFilter) -> str:
            table = self.sql(expression, "this")
            if expression.args.get("filter") is None:
                return f"ALTER {table} DROP ROW FILTER"
            return f"ALTER {table} SET {self.sql(expression, 'filter')}"

        def altercolumnmask_sql(self, expression: AlterColumnMask) -> str:
            table, column = self.sql(expression, "this"), self.sql(expression, "column")
            head = f"ALTER {table} ALTER COLUMN {column}"
            if expression.args.get("mask") is None:
                return f"{head} DROP MASK"
            return f"{head} SET {self.sql(expression, 'mask')}"

        def securable_sql(self, expression: Securable) -> str:
            name = self.sql(expression, "this")
            return f"{expression.args['kind']} {name}" if name else expression.args["kind"]

        def showgrants_sql(self, expression: ShowGrants) -> str:
            principal = self.sql(expression, "this")
            if expression.args.get("securable") is None:
                return f"SHOW GRANTS TO {principal}"
            principal = f" {principal}" if principal else ""
            return f"SHOW GRANTS{principal} ON {self.sql(expression, 'securable')}"

        def alterowner_sql(self, expression: AlterOwner) -> str:
            securable = self.sql(expression, "this")
            return f"ALTER {securable} OWNER TO {self.sql(expression, 'principal')}"

        def altermodelalias_sql(self, expression: AlterModelAlias) -> str:
            securable, alias = self.sql(expression, "this"), self.sql(expression, "alias")
            if expression.args.get("version") is None:
                return f"ALTER {securable} DROP ALIAS {alias}"
            return f"ALTER {securable} SET ALIAS {alias} = {self.sql(expression, 'version')}"

        def altergroupmembers_sql(self, expression: AlterGroupMembers) -> str:
            group = self.sql(expression, "this")
            action, kind = expression.args["action"], expression.args["kind"]
            return f"ALTER GROUP {group} {action} {kind} {self.sql(expression, 'member')}"

        def showobjects_sql(self, expression: ShowObjects) -> str:
            scope = self.sql(expression, "this")
            scope = f" IN {scope}" if scope else ""
            return f"SHOW {expression.args['kind']}{scope}"

        def describe_sql(self, expression: exp.Describe) -> str:
            kind = expression.args.get("kind")
            if kind:
                extended = " EXTENDED" if expression.args.get("style") == "EXTENDED" else ""
                return f"DESCRIBE {kind}{extended} {self.sql(expression, 'this')}"
            return super().describe_sql(expression)


_DIALECT = Steward()


#: Arguments an INSERT tree may carry (anything else: OVERWRITE, PARTITION, BY NAME, …).
_INSERT_ARGS = frozenset({"this", "expression", "with_"})
_TABLE_NAME_ARGS = frozenset({"this", "db", "catalog", "alias"})
_INSERT_CLAUSES = {
    "overwrite": "INSERT OVERWRITE",
    "partition": "PARTITION",
    "by_name": "BY NAME",
    "where": "REPLACE WHERE",
    "exists": "IF NOT EXISTS",
    "returning": "RETURNING",
    "alternative": "INSERT OR …",
    "ignore": "INSERT IGNORE",
}


def _is_false(value: object) -> bool:
    return value is False or (isinstance(value, exp.Boolean) and not value.this)


def _is_unquoted_name(token: Token) -> bool:
    """Whether a token may stand as a name part without back-quotes.

    The same test decides parsing and quoting (``make_identifier``), which is what makes
    ``parse_statement(to_sql(tree)) == tree`` hold for every name.
    """
    return (
        token.token_type == TokenType.VAR or token.token_type in Steward.Parser.ID_VAR_TOKENS
    ) and token.text.upper() not in _STRUCTURAL_WORDS


def _needs_quotes(text: str) -> bool:
    """True unless ``text`` tokenizes to exactly one unquoted-name token with the same text.

    Deciding by the dialect's own tokenizer (not a character pattern) keeps quoting exactly
    in step with what the parser accepts, keywords included.
    """
    try:
        tokens = _DIALECT.tokenizer().tokenize(text)
    except TokenError:
        return True
    return not (
        len(tokens) == 1
        and tokens[0].text == text
        and not tokens[0].comments
        and _is_unquoted_name(tokens[0])
    )


def _faithful_type(data_type: exp.Expression | None) -> bool:
    """Whether a parsed column type prints back as itself.

    sqlglot's type parser is lenient across dialects (``DECIMAL(10 2)`` parses, with the
    ``2`` as an Oracle-style modifier Databricks then silently drops). The catalog stores
    ``type_text``, so a type that does not survive printing is a syntax error here.
    """
    if not isinstance(data_type, exp.DataType):
        return False
    try:
        printed = to_sql(data_type)
        return exp.DataType.build(printed, dialect=_DIALECT) == data_type
    except (ParseError, TokenError, UnsupportedError, ValueError, RecursionError):
        return False


def make_identifier(text: str) -> exp.Identifier:
    """A name part, back-quoted exactly when it has to be.

    Quoting is normalized rather than remembered: Databricks names are case-insensitive
    either way, so ``alice`` and `` `alice` `` are the same principal and get one canonical
    spelling.
    """
    return exp.Identifier(this=text, quoted=_needs_quotes(text))


def make_table(parts: Sequence[exp.Identifier]) -> exp.Table:
    """Dotted name parts as an ``exp.Table`` (sqlglot's carrier for up to three parts)."""
    keys = ("this", "db", "catalog")
    return exp.Table(**{key: part for key, part in zip(keys, reversed(parts), strict=False)})


# --------------------------------------------------------------------------------------
# Entry points


def _position(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error_at(
    sql: str, tokens: Sequence[Token], token: Token | None, detail: str
) -> SqlSyntaxError:
    if token:
        line, column = _position(sql, token.start)
        return SqlSyntaxError(detail, line, column, sql[token.start : token.end + 1])
    offset = tokens[-1].end + 1 if tokens else 0
    line, column = _position(sql, offset)
    return SqlSyntaxError(detail, line, column, "")


#: One tokenizer per thread: building one (its keyword and token tables) was a tenth of
#: tokenizing a short statement, and each call to ``tokenize`` starts afresh.
_TOKENIZERS = threading.local()


def _tokenizer() -> Tokenizer:
    found: Tokenizer | None = getattr(_TOKENIZERS, "tokenizer", None)
    if found is None:
        found = _TOKENIZERS.tokenizer = _DIALECT.tokenizer()
    return found


def _tokenize(sql: str) -> list[Token]:
    tokenizer = _tokenizer()
    try:
        tokens = tokenizer.tokenize(sql)
        tokenizer._core.reset()  # holds no statement between calls
        return tokens
    except TokenError as err:
        # The tokenizer's message is a free-form context snippet; its scan start is exact.
        start = getattr(tokenizer._core, "_start", 0)
        line, column = _position(sql, start)
        rest = sql[start:]
        opener = rest[1:2] if rest[:1].isalpha() else rest[:1]  # r'…', X'…' prefixes
        if rest.startswith("/*"):
            detail = "expected */ to close the comment"
        elif opener in ("'", '"', "`"):
            detail = f"expected a closing {opener} to end the quoted text"
        else:
            detail = "expected a valid token"
        raise SqlSyntaxError(detail, line, column, rest.split("\n", 1)[0]) from err


_TOO_DEEP = "expected a less deeply nested statement"


def parse_statement(sql: str) -> exp.Expression:
    """Parse exactly one Steward statement into a typed tree.

    One trailing ``;`` is allowed; an empty input, a second statement or any leftover token
    is a ``SqlSyntaxError`` whose message names line, column, token and what was expected.
    A returned tree is always printable by ``to_sql``, and is the caller's own: a text
    parsed recently is answered with a copy of its kept tree (:mod:`policy.recent_trees`).
    """
    tree = _RECENT.copy_of(sql)
    if tree is not None:
        return tree
    tree = _parse(sql)
    _RECENT.keep(sql, tree)
    return tree


def kept_statement(
    sql: str, wanted: Callable[[exp.Expression], bool] | None = None
) -> exp.Expression | None:
    """:func:`parse_statement`'s tree for ``sql`` when the text was parsed lately (a copy
    of the kept tree, the caller's own) and ``wanted`` (reading it only) accepts it, else
    None — nothing is parsed: for a caller that must not spend a parse's CPU where it runs
    (the event loop)."""
    return _RECENT.copy_of(sql, wanted)


#: Trees of the statement texts parsed lately, per process.
_RECENT = RecentTrees()


def _parse(sql: str) -> exp.Expression:
    tokens = _tokenize(sql)
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens = tokens[:-1]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise _error_at(
                sql, tokens, token, "expected end of statement (one statement at a time)"
            )

    parser = _DIALECT.parser(error_level=ErrorLevel.IMMEDIATE)
    try:
        statements = parser._parse(Steward.Parser._st_statement, tokens, sql)
    except _StewardParseError as err:
        raise _error_at(sql, tokens, err.token, err.detail) from None
    except ParseError as err:  # raised by sqlglot without going through raise_error
        detail = str(err.errors[0].get("description") or err) if err.errors else str(err)
        raise _error_at(sql, tokens, parser._curr or None, detail) from None
    except RecursionError:
        raise _error_at(sql, tokens, parser._curr or None, _TOO_DEEP) from None
    except Exception as err:
        # Last resort so bad input is never a server error; the cause stays chained for
        # logs, and the fuzz test fails on any such cause, so it is not a hiding place.
        detail = "expected valid SQL (the parser could not read this statement)"
        raise _error_at(sql, tokens, parser._curr or None, detail) from err
    statement = statements[0] if statements else None
    if not isinstance(statement, exp.Expression):
        raise _error_at(sql, tokens, None, "expected a statement")
    try:
        # Only hand out trees to_sql can print faithfully: long dotted chains (a.b.c.…)
        # parse in a loop but print recursively, and a few query features (FOR UPDATE …)
        # have no Databricks spelling, which sqlglot would otherwise drop with a warning.
        to_sql(statement)
    except RecursionError:
        raise _error_at(sql, tokens, tokens[0], _TOO_DEEP) from None
    except UnsupportedError as err:
        detail = f"expected a supported query ({str(err).strip()})"
        raise _error_at(sql, tokens, tokens[0], detail) from None
    return statement


def to_sql(node: exp.Expression, *, pretty: bool = False) -> str:
    """Canonical SQL for a tree: what audit logs store and what round-trips to an equal tree."""
    return _DIALECT.generate(
        node, pretty=pretty, comments=False, unsupported_level=ErrorLevel.RAISE
    )
