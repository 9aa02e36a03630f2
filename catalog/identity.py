"""Principals, group membership and personal access tokens (docs/running.md, docs/api.md).

Tokens are 256-bit random strings; only their SHA-256 digest is stored. A slow
password hash buys nothing for secrets of that entropy and would cost every
request, so a plain digest is the right tool here.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from catalog.access import casbin_rules
from catalog.access.authorizer import Caller
from catalog.access.replica_sync import (
    TOKENS_CHANGED,
    Op,
    PolicyFeed,
    member_added_op,
    member_removed_op,
    principal_removed_op,
    tokens_changed_op,
)
from catalog.persistence.engine import Database
from catalog.principal_changes import PrincipalUpdate, SetEdit, SetOp, apply_edits
from catalog.records import (
    PrincipalKind,
    PrincipalRecord,
    TokenRecord,
    new_id,
    now_ms,
)
from catalog.store.base import IdentityStore
from catalog.store.factory import CatalogStores
from common.errors import AlreadyExists, InvalidParameter, NotFound, Unauthenticated
from common.text import (
    NAME_LENGTH,
    TEXT_REFUSED,
    fold_identifier,
    fold_text,
    refuse_controls,
    shown,
)
from policy.securables import ACCOUNT_USERS

TOKEN_PREFIX = "dapi"
ADMIN_NAME = "admin"
MAX_TOKEN_LIFETIME_SECONDS = 10 * 365 * 24 * 3600
#: How long a verified token is trusted without reading it again (see IdentityService.cached).
TOKEN_CACHE_SECONDS = 1.0
TOKEN_CACHE_ENTRIES = 10_000


@dataclass
class _Verification:
    """One read of a token's record that requests presenting the same token wait for."""

    done: threading.Event
    found: tuple[TokenRecord, PrincipalRecord] | None = None
    #: The refusal's message when the token is not valid; both None: the read failed.
    refused: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(32)


@dataclass
class IssuedToken:
    value: str
    record: TokenRecord


def normalize_principal_name(name: object, what: str) -> str:
    """The stored spelling of a principal name (userName, applicationId, group name).

    Folded like every identifier (:func:`common.text.fold_identifier`: NFKC, lower-case)
    and stripped, so ``ａｌｉｃｅ@example.com`` or an NFD ``é`` is the principal already
    there, not a second one a grant could be confused with; control and invisible
    characters are refused where they were sent, naming ``what`` and the position.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{what} must be a non-empty string")
    if len(name) > 4 * NAME_LENGTH:
        raise InvalidParameter(f"{what} is longer than {NAME_LENGTH} characters")
    refuse_controls(name, what)
    folded = fold_identifier(name).strip()
    if not folded:
        raise InvalidParameter(f"{what} must be a non-empty string")
    if len(folded) > NAME_LENGTH:
        raise InvalidParameter(f"{what} is longer than {NAME_LENGTH} characters")
    return folded


def normalize_display_name(value: str | None, what: str = "displayName") -> str | None:
    """A display name is free text shown beside the name: NFC, and no control characters
    (invisible joiners stay allowed: emoji and some scripts need them)."""
    if value is None:
        return None
    refuse_controls(value, what, TEXT_REFUSED)
    return fold_text(value)


class IdentityService:
    def __init__(self, db: Database, feed: PolicyFeed, stores: CatalogStores) -> None:
        self.db = db
        self.stores = stores
        #: Where membership changes go; its engine also answers "which groups is X in".
        self.feed = feed
        #: Token digest → (when the entry expires, token, principal): see :meth:`cached`.
        self._tokens: dict[str, tuple[float, TokenRecord, PrincipalRecord]] = {}
        #: Bumped by :meth:`forget_tokens`: a token read before a revocation is not kept.
        self._token_generation = 0
        #: Token digest → the read of it in progress (see :meth:`authenticate`).
        self._verifying: dict[str, _Verification] = {}
        self._verifying_lock = threading.Lock()
        # A revocation anywhere reaches this process as an op of the feed.
        feed.hooks[TOKENS_CHANGED] = self.forget_tokens

    # -- authentication -------------------------------------------------------------

    def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        cached = self.cached(token)
        if cached is not None:
            return cached
        digest = hash_token(token)
        with self._verifying_lock:
            verification = self._verifying.get(digest)
            leading = verification is None
            if verification is None:
                verification = self._verifying[digest] = _Verification(threading.Event())
        if not leading:
            # The same token is being read right now (a client's concurrent requests, all
            # finding its cache entry expired in the same instant): wait for that read
            # rather than open one connection per request.
            verification.done.wait()
            if verification.refused is not None:
                raise Unauthenticated(verification.refused)
            if verification.found is not None:
                return self._caller(*verification.found)
            # That read failed (the database, not the token): read it here.
            return self._caller(*self._read_token(digest))
        try:
            found = self._read_token(digest, verification)
        finally:
            with self._verifying_lock:
                del self._verifying[digest]
            verification.done.set()
        return self._caller(*found)

    def _read_token(
        self, digest: str, verification: _Verification | None = None
    ) -> tuple[TokenRecord, PrincipalRecord]:
        """Read the token's record and principal, cache them, and note the outcome in
        ``verification`` for whoever waits on it."""
        generation = self._token_generation
        with self.db.read() as session:
            store = self.stores.identity(session)
            found = store.find_token(digest)
        if found is None or not hmac.compare_digest(found[0].token_hash, digest):
            refused = "invalid or revoked token"
            if verification is not None:
                verification.refused = refused
            raise Unauthenticated(refused)
        if verification is not None:
            verification.found = found
        if len(self._tokens) >= TOKEN_CACHE_ENTRIES:
            self._tokens.clear()
        if generation == self._token_generation:  # no revocation since the read
            self._tokens[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, *found)
        return found

    def cached(self, token: str) -> Caller | None:
        """The caller of a token seen less than :data:`TOKEN_CACHE_SECONDS` ago, without
        touching the database (so the event loop may ask), or None.

        A revocation, deletion or deactivation made on this replica drops every entry at
        once; one made on another replica is honoured here within the cache's second, the
        same bound as the replicas' policy staleness (catalog/access/replica_sync.py).
        Expiry is checked on every call, cached or not.
        """
        entry = self._tokens.get(hash_token(token))
        if entry is None or entry[0] < time.monotonic():
            return None
        return self._caller(entry[1], entry[2])

    def _caller(self, record: TokenRecord, principal: PrincipalRecord) -> Caller:
        if record.expiry_time is not None and record.expiry_time <= now_ms():
            raise Unauthenticated("token has expired")
        if not principal.active:
            raise Unauthenticated(f"principal '{principal.name}' is deactivated")
        # The policy engine holds the membership closure, kept current on every commit
        # (and across replicas): no per-request walk of the group tables.
        return Caller(principal, self.feed.engine.groups(principal.name))

    def forget_tokens(self) -> None:
        """Drop every verified token: run wherever a token was revoked or a principal
        deleted or deactivated, here or on another worker or replica
        (the feed's ``tokens~`` op, :mod:`catalog.access.cache_sync`)."""
        self._token_generation += 1
        self._tokens.clear()

    # -- bootstrap ------------------------------------------------------------------

    def bootstrap_admin(self, admin_token: str | None, storage_root: Path) -> str | None:
        """Create ``admin`` on first start; return a generated token to print once, if any."""
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            if store.get_principal_by_name(ADMIN_NAME) is not None:
                return None
            admin = PrincipalRecord(
                id=new_id(),
                kind=PrincipalKind.USER,
                name=ADMIN_NAME,
                display_name="Administrator",
                is_metastore_admin=True,
                created_at=now_ms(),
            )
            store.insert_principal(admin)
            generated = admin_token is None
            value = admin_token or generate_token()
            store.insert_token(
                TokenRecord(
                    id=new_id(),
                    principal_id=admin.id,
                    token_hash=hash_token(value),
                    comment="bootstrap admin token",
                    created_at=now_ms(),
                    created_by=ADMIN_NAME,
                )
            )
        if not generated:
            return None
        storage_root.mkdir(parents=True, exist_ok=True)
        path = storage_root / "admin-token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        os.chmod(path, 0o600)
        return value

    # -- principals -----------------------------------------------------------------

    def create_principal(
        self,
        kind: str,
        name: str,
        display_name: str | None = None,
        active: bool = True,
        members: Iterable[str] = (),
        groups: Iterable[str] = (),
    ) -> PrincipalRecord:
        """Create a principal with its initial members and groups (by id), all or nothing.

        ``name`` is normalized again (callers have; it is idempotent), so no path can
        store a spelling lookups would not find.
        """
        if normalize_principal_name(name, "name") == ACCOUNT_USERS:
            raise AlreadyExists(
                f"'{ACCOUNT_USERS}' is the built-in group of every user: it cannot be created"
            )
        record = PrincipalRecord(
            id=new_id(),
            kind=kind,
            name=normalize_principal_name(name, "name"),
            display_name=normalize_display_name(display_name),
            active=active,
            created_at=now_ms(),
        )
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            store.insert_principal(record)
            added = [self._add_member(store, record, member_id) for member_id in members]
            for group_id in groups:
                group = store.get_principal(group_id)
                if group is None or group.kind != PrincipalKind.GROUP:
                    raise NotFound(f"group with id '{group_id}' does not exist")
                added.append(self._add_member(store, group, record.id))
            ops = self._membership_ops(added, [])
            self._publish(session, ops)
        return record

    def get_principal(self, principal_id: str, kinds: Iterable[str]) -> PrincipalRecord:
        with self.db.read() as session:
            found = self.stores.identity(session).get_principal(principal_id)
        if found is None or found.kind not in set(kinds):
            raise NotFound(f"principal with id '{principal_id}' does not exist")
        return found

    def get_by_name(self, name: str) -> PrincipalRecord | None:
        """The principal of ``name`` in any spelling that folds to its stored one."""
        with self.db.read() as session:
            return self.stores.identity(session).get_principal_by_name(
                fold_identifier(name).strip()
            )

    def caller_named(self, name: str) -> Caller | None:
        """The principal of that name as a caller (its groups from the policy engine), for
        acting with its rights — a view's owner; None when it no longer exists or is
        deactivated (what it owns then reads as nobody's: fail closed)."""
        found = self.get_by_name(name)
        if found is None or not found.active:
            return None
        return Caller(found, self.feed.engine.groups(found.name))

    def require_principal_name(self, name: str, what: str = "principal") -> str:
        """The stored name of an existing principal; an unknown one is an error, not a no-op."""
        found = self.get_by_name(normalize_principal_name(name, what))
        if found is None:
            raise NotFound(f"{what} {shown(name)} is not a known principal")
        return found.name

    def list_principals(
        self, kinds: list[str], name_equals: str | None, start_index: int, count: int
    ) -> tuple[list[PrincipalRecord], int]:
        with self.db.read() as session:
            return self.stores.identity(session).list_principals(
                kinds,
                fold_identifier(name_equals).strip() if name_equals is not None else None,
                start_index - 1,
                count,
            )

    def delete_principal(self, principal_id: str, kinds: Iterable[str]) -> None:
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            found = store.get_principal(principal_id)
            if found is None or found.kind not in set(kinds):
                raise NotFound(f"principal with id '{principal_id}' does not exist")
            if found.name == ADMIN_NAME:
                raise InvalidParameter("the bootstrap admin cannot be deleted")
            store.delete_principal(principal_id)
            casbin_rules.remove_grants_to(session, found.name)
            ops = [principal_removed_op(found.name), tokens_changed_op()]
            self._publish(session, ops)

    def members(self, group_id: str) -> list[PrincipalRecord]:
        with self.db.read() as session:
            return self.stores.identity(session).members_of(group_id)

    def direct_groups(self, principal_id: str) -> list[PrincipalRecord]:
        with self.db.read() as session:
            store = self.stores.identity(session)
            groups = [store.get_principal(g) for _m, g in store.groups_of([principal_id])]
            return sorted((g for g in groups if g is not None), key=lambda g: g.name)

    def change_members(
        self, group_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> PrincipalRecord:
        """Add and remove members (by principal id) in one transaction; cycles are refused."""
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            group = store.get_principal(group_id)
            if group is None or group.kind != PrincipalKind.GROUP:
                raise NotFound(f"group with id '{group_id}' does not exist")
            added = [self._add_member(store, group, member_id) for member_id in add]
            removed = []
            for member_id in remove:
                member = store.get_principal(member_id)
                if member is None:
                    raise NotFound(f"principal with id '{member_id}' does not exist")
                store.remove_member(group.id, member_id)
                removed.append((member.name, group.name))
            ops = self._membership_ops(added, removed)
            self._publish(session, ops)
        return group

    def update_principal(
        self, principal_id: str, kinds: Iterable[str], update: PrincipalUpdate
    ) -> PrincipalRecord:
        """Apply ``update`` (SCIM PUT and PATCH) in one transaction, all or nothing.

        Member and group edits are applied to the sets as they are inside the transaction;
        removals are written before additions, so swapping a nested group for its parent
        is not mistaken for a cycle. A deactivation (or reactivation) drops the token
        cache, as a revocation does: the principal's tokens stop working at once here.
        """
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            record = store.get_principal(principal_id)
            if record is None or record.kind not in set(kinds):
                raise NotFound(f"principal with id '{principal_id}' does not exist")
            self._check_name(record, update.name)
            if update.set_display_name:
                record.display_name = self._display_name(record, update.display_name)
            active_changed = update.active is not None and update.active != record.active
            if active_changed:
                if not update.active and record.name == ADMIN_NAME:
                    raise InvalidParameter("the bootstrap admin cannot be deactivated")
                record.active = bool(update.active)
            store.update_principal(record)
            self._check_removed_exist(store, [*update.members, *update.groups])
            added: list[tuple[str, str]] = []
            removed: list[tuple[str, str]] = []
            if update.members:
                if record.kind != PrincipalKind.GROUP:
                    raise InvalidParameter("only groups have members")
                current = {m.id for m in store.members_of(record.id)}
                target = apply_edits(current, update.members)
                for member_id in sorted(current - target):
                    member = store.get_principal(member_id)
                    store.remove_member(record.id, member_id)
                    removed.append((member.name if member else member_id, record.name))
                added.extend(
                    self._add_member(store, record, member_id)
                    for member_id in sorted(target - current)
                )
            if update.groups:
                current = {g for _m, g in store.groups_of([record.id])}
                target = apply_edits(current, update.groups)
                for group_id in sorted(current - target):
                    group = store.get_principal(group_id)
                    store.remove_member(group_id, record.id)
                    removed.append((record.name, group.name if group else group_id))
                for group_id in sorted(target - current):
                    group = store.get_principal(group_id)
                    if group is None or group.kind != PrincipalKind.GROUP:
                        raise NotFound(f"group with id '{group_id}' does not exist")
                    added.append(self._add_member(store, group, record.id))
            ops = self._membership_ops(added, removed)
            if active_changed:
                ops.append(tokens_changed_op())
            self._publish(session, ops)
        return record

    @staticmethod
    def _check_removed_exist(store: IdentityStore, edits: Iterable[SetEdit]) -> None:
        """Removing a principal that is not a member is no error; naming one that does not
        exist is (a misspelt id must not look like a success)."""
        for edit in edits:
            if edit.op is SetOp.REMOVE:
                for principal_id in edit.ids:
                    if store.get_principal(principal_id) is None:
                        raise NotFound(f"principal with id '{principal_id}' does not exist")

    @staticmethod
    def _check_name(record: PrincipalRecord, name: str | None) -> None:
        if name is None:
            return
        what = "applicationId" if record.kind == PrincipalKind.SERVICE_PRINCIPAL else "userName"
        if normalize_principal_name(name, what) != record.name:
            raise InvalidParameter(
                f"{what} cannot be changed (it stays {shown(record.name)}): grants, "
                "ownership and tokens name the principal by it; create a new principal instead"
            )

    @staticmethod
    def _display_name(record: PrincipalRecord, value: str | None) -> str | None:
        """A group's displayName is its name as written: only its spelling may change."""
        display = normalize_display_name(value)
        if record.kind != PrincipalKind.GROUP:
            return display
        if display is None:
            raise InvalidParameter("a group's displayName is its name and cannot be removed")
        if normalize_principal_name(display, "displayName") != record.name:
            raise InvalidParameter(
                f"a group cannot be renamed: its displayName stays {shown(record.name)} "
                "(in any case), as grants name the group by it; create a new group and "
                "move the members instead"
            )
        return display

    @staticmethod
    def _membership_ops(added: list[tuple[str, str]], removed: list[tuple[str, str]]) -> list[Op]:
        return [member_removed_op(m, g) for m, g in removed] + [
            member_added_op(m, g) for m, g in added
        ]

    def _publish(self, session: Session, ops: list[Op]) -> None:
        self.feed.publish(session, ops)

    def _add_member(
        self, store: IdentityStore, group: PrincipalRecord, member_id: str
    ) -> tuple[str, str]:
        member = store.get_principal(member_id)
        if member is None:
            raise NotFound(f"principal with id '{member_id}' does not exist")
        if member.kind == PrincipalKind.GROUP:
            containing = self._ancestor_ids(store, group.id) | {group.id}
            if member.id in containing:
                raise InvalidParameter(
                    f"adding group '{member.name}' to '{group.name}' would create a cycle"
                )
        store.add_member(group.id, member.id)
        return member.name, group.name

    @staticmethod
    def _ancestor_ids(store: IdentityStore, principal_id: str) -> set[str]:
        seen: set[str] = set()
        frontier = [principal_id]
        while frontier:
            frontier = [g for _m, g in store.groups_of(frontier) if g not in seen]
            seen.update(frontier)
        return seen

    # -- tokens ---------------------------------------------------------------------

    def issue_token(
        self,
        principal: PrincipalRecord,
        created_by: str,
        lifetime_seconds: int | None,
        comment: str | None,
    ) -> IssuedToken:
        if lifetime_seconds is not None and lifetime_seconds > MAX_TOKEN_LIFETIME_SECONDS:
            raise InvalidParameter(
                f"lifetime_seconds may be at most {MAX_TOKEN_LIFETIME_SECONDS} (ten years)"
            )
        created = now_ms()
        expiry = (
            created + lifetime_seconds * 1000
            if lifetime_seconds is not None and lifetime_seconds > 0
            else None
        )
        value = generate_token()
        record = TokenRecord(
            id=secrets.token_hex(16),
            principal_id=principal.id,
            token_hash=hash_token(value),
            comment=comment,
            created_at=created,
            expiry_time=expiry,
            created_by=created_by,
        )
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            if store.get_principal(principal.id) is None:
                raise NotFound(f"principal '{principal.name}' does not exist")
            store.insert_token(record)
        return IssuedToken(value, record)

    def list_tokens(self, principal_id: str | None) -> list[TokenRecord]:
        with self.db.read() as session:
            return self.stores.identity(session).list_tokens(principal_id)

    def get_token(self, token_id: str) -> TokenRecord:
        with self.db.read() as session:
            found = self.stores.identity(session).get_token(token_id)
        if found is None:
            raise NotFound(f"token '{token_id}' does not exist")
        return found

    def update_token_comment(
        self, token_id: str, comment: str | None, owner_id: str | None
    ) -> TokenRecord:
        """Change a token's comment, the one thing about a token that may change; with
        ``owner_id`` only that principal's own token (another's answers as missing)."""
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            token = store.get_token(token_id)
            if token is None or (owner_id is not None and token.principal_id != owner_id):
                raise NotFound(f"token '{token_id}' does not exist")
            store.update_token_comment(token_id, comment)
            token.comment = comment
        return token

    def revoke_token(self, token_id: str, owner_id: str | None) -> None:
        """Revoke a token; with ``owner_id`` only that principal's own token."""
        with self.db.transaction() as session:
            store = self.stores.identity(session)
            token = store.get_token(token_id)
            if token is None or (owner_id is not None and token.principal_id != owner_id):
                raise NotFound(f"token '{token_id}' does not exist")
            store.delete_token(token_id)
            ops = [tokens_changed_op()]
            self._publish(session, ops)


__all__ = ["AlreadyExists", "IdentityService", "IssuedToken"]
