"""The parsed trees of recently seen statement texts, so that a text sent again is not
parsed again.

Clients send the same statements over and over (a console's ``SHOW TABLES IN …``, a
scheduler's ``GRANT``/``REVOKE``, a dashboard's queries), and parsing is a fixed cost of
each: 60–130 µs for a short SHOW or GRANT, 600 µs for a join of two tables, against 4–20 µs
to copy the tree. Parsing is a pure function of the text (parameters are bound into a
copy afterwards, by :mod:`policy.parameters`), so a tree kept per text is always right.
Every caller gets its own copy, never the kept tree: handlers may change what they are
given.

Bounded twice: by entries and by the characters of the texts kept (a tree's size follows
its text's), the least recently used going first; a text longer than
:data:`MAX_TEXT_CHARS` is never kept. Failures are not kept: a bad statement is parsed,
and refused, every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from sqlglot import exp

#: Texts kept at most, and their characters at most (together).
MAX_ENTRIES = 512
MAX_CHARS = 128 * 1024
#: Longer texts are parsed every time (a bulk INSERT would crowd everything else out).
MAX_TEXT_CHARS = 4096


class RecentTrees:
    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_chars: int = MAX_CHARS,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.max_text_chars = max_text_chars
        self._trees: OrderedDict[str, exp.Expression] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def copy_of(
        self, sql: str, wanted: Callable[[exp.Expression], bool] | None = None
    ) -> exp.Expression | None:
        """A copy of the tree kept for ``sql`` (None: not kept), or None without a copy
        when ``wanted`` (which must only read the tree) says no."""
        with self._lock:
            tree = self._trees.get(sql)
            if tree is None:
                return None
            self._trees.move_to_end(sql)
        if wanted is not None and not wanted(tree):
            return None
        return tree.copy()

    def keep(self, sql: str, tree: exp.Expression) -> None:
        """Keep a copy of ``tree`` for ``sql`` (the caller keeps ``tree`` itself); a text
        too long to keep costs nothing here, not even the copy."""
        if len(sql) > self.max_text_chars:
            return
        kept = tree.copy()
        with self._lock:
            if sql in self._trees:
                return
            self._trees[sql] = kept
            self._chars += len(sql)
            while len(self._trees) > self.max_entries or self._chars > self.max_chars:
                dropped, _ = self._trees.popitem(last=False)
                self._chars -= len(dropped)

    def __len__(self) -> int:
        return len(self._trees)

    @property
    def chars(self) -> int:
        return self._chars
