"""What a change to a principal may say, independent of how it arrived (SCIM PUT or PATCH).

SCIM edits a multi-valued attribute (a group's ``members``, a principal's ``groups``) with
a sequence of add, remove and replace operations whose order matters: ``replace [a]``
then ``add b`` leaves ``{a, b}``, ``add b`` then ``replace [a]`` leaves ``{a}``. The
operations are kept as they came (:class:`SetEdit`) and applied, in order, to the set
read inside the transaction that writes the result
(:meth:`catalog.identity.IdentityService.update_principal`), so a concurrent change is
never lost to an earlier read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class SetOp(Enum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True)
class SetEdit:
    """One operation on a set of principal ids."""

    op: SetOp
    ids: tuple[str, ...] = ()

    def apply(self, current: set[str]) -> set[str]:
        if self.op is SetOp.ADD:
            return current | set(self.ids)
        if self.op is SetOp.REMOVE:
            return current - set(self.ids)
        return set(self.ids)


def apply_edits(current: Iterable[str], edits: Iterable[SetEdit]) -> set[str]:
    result = set(current)
    for edit in edits:
        result = edit.apply(result)
    return result


@dataclass(frozen=True)
class PrincipalUpdate:
    """A change to one principal; what it leaves at its default stays as it is.

    ``name``: the name the caller sent (``userName``, ``applicationId``); a principal's
    name never changes (grants, ownership and tokens refer to it), so it must name the
    principal already, in any spelling that folds to its own. ``display_name`` applies
    only when ``set_display_name`` (None then clears it). ``members`` applies to groups
    only; ``groups`` are the groups the principal is a direct member of.
    """

    name: str | None = None
    set_display_name: bool = False
    display_name: str | None = None
    active: bool | None = None
    members: tuple[SetEdit, ...] = ()
    groups: tuple[SetEdit, ...] = ()
