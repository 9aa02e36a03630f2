"""Parsed trees kept per statement text (policy/recent_trees.py): a text sent again is
answered with a copy of the tree it parsed to, equal to a fresh parse, the caller's own
to change; failures are never kept; the bounds hold."""

from __future__ import annotations

import pytest
from sqlglot import exp

from policy import dialect
from policy.dialect import SqlSyntaxError, parse_statement, to_sql
from policy.recent_trees import RecentTrees

STATEMENTS = [
    "GRANT SELECT ON TABLE main.sales.orders TO `analysts`",
    "SHOW TABLES IN main.sales",
    "SELECT o.id, c.name\nFROM main.sales.orders o JOIN main.sales.customers c ON o.cid = c.id\n"
    "WHERE o.total > :minimum ORDER BY o.id LIMIT 10",
    "CREATE TABLE main.sales.t (id BIGINT, name STRING, v DOUBLE)",
    "ALTER TABLE main.sales.orders SET ROW FILTER main.sales.f ON (region)",
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_text_parsed_again_gives_an_equal_tree_of_its_own(sql: str) -> None:
    fresh = dialect._parse(sql)
    first = parse_statement(sql)
    again = parse_statement(sql)
    assert first == fresh and again == fresh
    assert to_sql(again) == to_sql(fresh)
    # Positions (for errors naming line and column) come along.
    assert [n.meta for n in again.walk()] == [n.meta for n in fresh.walk()]
    # Each caller's tree is its own: changing one changes neither the kept one nor the next.
    assert again is not first
    for identifier in again.find_all(exp.Identifier):
        identifier.set("this", "changed")
    assert parse_statement(sql) == fresh


def test_a_bad_statement_is_refused_every_time_and_never_kept() -> None:
    sql = "GRANT SELECT ON TABLE main.sales.orders TO"
    before = len(dialect._RECENT)
    for _ in range(3):
        with pytest.raises(SqlSyntaxError) as refused:
            parse_statement(sql)
        assert refused.value.line == 1
    assert dialect._RECENT.copy_of(sql) is None
    assert len(dialect._RECENT) <= before


def test_the_bounds_hold_and_the_least_recently_used_goes_first() -> None:
    kept = RecentTrees(max_entries=3, max_chars=60, max_text_chars=30)
    texts = [f"SHOW TABLES IN c.s{i}" for i in range(4)]  # 19 characters each
    for text in texts[:3]:
        kept.keep(text, parse_statement(text))
    assert len(kept) == 3 and kept.chars == 57
    assert kept.copy_of(texts[0]) is not None  # used: now the most recent
    kept.keep(texts[3], parse_statement(texts[3]))
    assert kept.copy_of(texts[1]) is None  # the least recently used went
    assert all(kept.copy_of(t) is not None for t in (texts[0], texts[2], texts[3]))
    kept.keep("SHOW TABLES IN c.a_longer_name", parse_statement("SHOW TABLES IN c.x"))
    assert len(kept) == 2 and kept.chars <= 60  # by characters too
    long_text = "SHOW TABLES IN c." + "s" * 40
    kept.keep(long_text, parse_statement(long_text))
    assert kept.copy_of(long_text) is None  # longer than a kept text may be


def test_a_kept_tree_is_copied_only_when_wanted() -> None:
    kept = RecentTrees()
    text = STATEMENTS[1]
    assert kept.copy_of(text, lambda tree: True) is None  # not kept yet
    kept.keep(text, parse_statement(text))
    seen: list[exp.Expression] = []

    def refuse(tree: exp.Expression) -> bool:
        seen.append(tree)
        return False

    assert kept.copy_of(text, refuse) is None
    copy = kept.copy_of(text, lambda tree: isinstance(tree, type(seen[0])))
    assert copy == seen[0] and copy is not seen[0]  # the kept tree is shown, a copy handed out
