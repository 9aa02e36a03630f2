"""Text every backend can store, and the one rule every name is held to.

Storable text: PostgreSQL refuses NUL characters and no database can encode a lone UTF-16
surrogate, so both are refused up front as bad input.

Names
-----
Every name Steward stores or compares (catalogs, schemas, tables, models, serving
endpoints, principals, OpenLineage datasets and jobs) is folded here at the boundary, so
one name typed two ways is one name: ``é`` as one code point (NFC) or as ``e`` plus a
combining accent (NFD, what macOS file names and some input methods produce) finds the
same catalog, and creating the other spelling answers "already exists". Two foldings:

* :func:`fold_identifier`, for the names Unity Catalog compares case-insensitively
  (securables and principals): **NFKC**, then lower-case (then NFKC again, as lower-casing
  may leave a sequence NFKC would compose). NFC alone would leave ``ｍａｉｎ`` (fullwidth,
  what a CJK input method types) beside ``main``, and ``ｓｙｓｔｅｍ`` beside the reserved
  ``system`` catalog: names that look alike, read alike and would be two objects with two
  sets of grants. NFKC is what Unicode recommends for identifiers (UAX #31, and
  NFKC_Casefold for case-insensitive ones) and what Python does to its own identifiers
  (PEP 3131). What it folds are compatibility variants of the same text (fullwidth and
  halfwidth forms, ligatures such as ``ﬁ``, superscripts, circled and styled letters,
  no-break spaces), never two different words; the price is that ``x²`` is stored as
  ``x2``, which is the point. Lower-casing stays ``str.lower`` (not ``casefold``), the
  rule names were stored under before, so ``straße`` stays ``straße``.
* :func:`fold_external`, for names that belong to another system (an OpenLineage dataset's
  namespace and name, e.g. an S3 key or a Kafka topic): **NFC** only, case kept. Those
  systems compare their own names; canonically equivalent spellings are the same text on
  any of them, but a fullwidth key and an ASCII key may well be two different objects.

Characters no name may hold (:func:`control_problem`) are refused with the position of
the first one and its code point, never the raw character: a name is shown on terminals,
in logs and in diagrams, where a ``\\r`` rewrites the line, an escape sequence recolours
it, and a right-to-left override (U+202E) makes ``exe.txt`` read ``txt.exe``.

* identifiers refuse every "other" category (``Cc`` controls, ``Cf`` invisible format
  characters such as U+200B ZERO WIDTH SPACE and the bidi overrides, ``Cs`` surrogates,
  ``Co`` private use, ``Cn`` unassigned), and line and paragraph separators (``Zl``,
  ``Zp``). Format characters are invisible by design: ``ab`` and ``a\\u200bb`` would be two
  names no one can tell apart. That also refuses U+200C/U+200D (ZWNJ/ZWJ), which some
  scripts (Persian, Indic conjuncts) and emoji sequences use: Unicode's identifier rules
  allow them only in narrow contexts, and names are kept to the safe side.
* external names refuse ``Cc``, ``Cf``, ``Cs``, ``Zl`` and ``Zp``, but take private-use and
  not yet assigned characters, which another system's newer Unicode may hold.
* free text that is a name's companion (a display name) refuses ``Cc``, ``Cs``, ``Zl`` and
  ``Zp`` only, so ZWJ emoji and ZWNJ words remain writable.

Terminals and messages show text through :func:`escape_controls`, which writes what
could act on a terminal (``Cc``, ``Cf`` but ZWJ/ZWNJ, ``Cs``, ``Zl``, ``Zp``) as a visible
escape (``\\r``, ``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from common.errors import InvalidParameter

#: Column widths of the stores; requests are checked against them before any write.
NAME_LENGTH = 255
TYPE_TEXT_LENGTH = 1000
SHORT_TEXT_LENGTH = 64

#: Unicode general categories refused in identifiers (securables and principals).
IDENTIFIER_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: ... in names of other systems (OpenLineage dataset namespaces and names, jobs).
EXTERNAL_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: ... in free text that goes with a name (a principal's display name).
TEXT_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})

_KINDS = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "an unpaired surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
#: Names of the controls people meet (``unicodedata.name`` has none for ``Cc``).
_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "BACKSPACE",
    0x09: "TAB",
    0x0A: "LINE FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
}
#: Joiners: format characters, but harmless on a terminal and part of emoji and words.
_JOINERS = frozenset({"\u200c", "\u200d"})
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def storable_problem(value: str) -> str | None:
    for ch in value:
        if ch == "\x00":
            return "contains a NUL character"
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return "contains an unpaired surrogate"
    return None


def check_storable(value: Any, what: str) -> None:
    """Raise if ``value`` (or any string nested in it) cannot be stored."""
    if isinstance(value, str):
        problem = storable_problem(value)
        if problem:
            raise InvalidParameter(f"'{what}' {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, what)
            check_storable(item, f"{what}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable(item, what)


# -- names ------------------------------------------------------------------------------


def fold_identifier(value: str) -> str:
    """The stored spelling of a securable or principal name: NFKC, lower-case (module
    docstring). Idempotent; validates nothing (see :func:`refuse_controls`)."""
    if value.isascii():
        return value.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).lower())


def fold_external(value: str) -> str:
    """The stored spelling of another system's name: NFC, case kept (module docstring)."""
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def fold_text(value: str) -> str:
    """Free text that goes with a name (a display name): NFC, case kept."""
    return fold_external(value)


def describe_character(ch: str) -> str:
    """``U+000D (CARRIAGE RETURN)``: a character named without writing it."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "")
    return f"U+{code:04X} ({name})" if name else f"U+{code:04X}"


def control_problem(value: str, refused: frozenset[str] = IDENTIFIER_REFUSED) -> str | None:
    """``contains a control character U+000D (CARRIAGE RETURN) at position 4`` for the
    first character of ``value`` in a ``refused`` category (positions count from 1), or
    None. ``value`` as given: the position is where its sender put the character."""
    if value.isascii() and value.isprintable():
        return None
    for position, ch in enumerate(value, start=1):
        category = unicodedata.category(ch)
        if category in refused:
            return f"contains {_KINDS[category]} {describe_character(ch)} at position {position}"
    return None


def refuse_controls(value: str, what: str, refused: frozenset[str] = IDENTIFIER_REFUSED) -> None:
    """Raise ``InvalidParameter`` naming ``what``, the character and its position if
    ``value`` holds a character of a ``refused`` category; the value is shown escaped."""
    problem = control_problem(value, refused)
    if problem:
        raise InvalidParameter(f"{what} {shown(value)} {problem}")


def escape_controls(value: str, keep_newlines: bool = False) -> str:
    """``value`` with what could act on a terminal (``Cc``, ``Cf`` but ZWJ/ZWNJ, ``Cs``,
    ``Zl``, ``Zp``) written as a visible escape: ``\\r``, ``\\x1b``, ``\\u202e``.

    Everything else, backslashes and non-ASCII letters included, is left as it is, so a
    name reads as itself; an escape is therefore told from the same characters typed
    only by context. ``keep_newlines`` keeps ``\\n`` (and ``\\r\\n`` as ``\\n``) for
    free text shown over several lines.
    """
    if value.isprintable():
        return value
    if keep_newlines:
        value = value.replace("\r\n", "\n")
    out = []
    for ch in value:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif _acts_on_terminal(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def shown(value: str, limit: int = 80) -> str:
    """``value`` quoted for a message: escaped, and cut to ``limit`` characters with ``…``."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    return f"'{escape_controls(cut)}'"


def _acts_on_terminal(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _JOINERS
    return category in ("Cc", "Cs", "Zl", "Zp")


def _escape(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short:
        return short
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
