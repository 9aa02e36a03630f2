"""Declarative route guards.

Each route passes ``dependencies=[guard(...)]`` stating what it requires; the
guard reads the securable's name from the request as declared and asks the one
authorizer. A test walks the app's routes and fails on any without a guard.

What the caller may not see answers as missing (docs/privileges.md, "Visibility"):
the authorizer raises :class:`~catalog.access.authorizer.Hidden` — a 404 with the
missing object's message — for a refusal on an object the caller cannot see, and the
guard passes it on as it is. A route that reads an object's metadata declares
``BROWSE``, which the authorizer allows to whoever sees the object; listings of a
container declare ``BROWSE`` on the container, so a hidden container lists as a
missing one.
"""

from __future__ import annotations

import time

import orjson
from fastapi import Depends, Request
from fastapi import params as fastapi_params
from starlette.concurrency import run_in_threadpool

from catalog.access.authorizer import Caller
from catalog.http.deps import BearerDep, caller_of
from catalog.names import split_full_name
from catalog.records import SecurableRecord
from catalog.runtime import Runtime
from common.errors import InvalidParameter, NotFound, PermissionDenied
from policy.requirements import Access, NameFrom, NameSource, Requirement
from policy.securables import API_SECURABLE_TYPES, Privilege, SecurableType


class Guard:
    """The dependency behind :func:`guard`; it carries its requirement for inspection.

    ``alternative``: a second requirement on the same securable that also lets the request
    through (UC's "BROWSE, or EXECUTE" on model metadata); a denial names the first.
    """

    def __init__(
        self,
        requirement: Requirement,
        alternative: Requirement | None = None,
        cache_seconds: float = 0.0,
    ) -> None:
        self.requirement = requirement
        self.alternative = alternative
        self.cache_seconds = cache_seconds
        #: Name as requested → (when it expires, the securable chain): see :func:`guard`.
        self._chains: dict[str, tuple[float, list[SecurableRecord]]] = {}

    async def __call__(self, request: Request, _credentials: BearerDep) -> None:
        # The caller and the runtime are read here rather than declared as dependencies:
        # each declared dependency costs FastAPI's solver a visit per request, and a guard
        # runs on every request.
        caller = caller_of(request)
        runtime: Runtime = request.app.state.runtime
        req = self.requirement
        if req.type_from is not None:
            req = req.resolved(securable_type_from_path(request.path_params.get(req.type_from)))
        if req.access is Access.SYSTEM_TABLE:
            await run_in_threadpool(_check, runtime, caller, req, req.system_table)
            return
        if req.access is not Access.PRIVILEGE:
            runtime.authorizer.require(caller, req, None, store=None)
            return
        full_name = await _read_name(request, req.name_from) if req.name_from else None
        if full_name is not None and req.privilege is not None and req.securable_type is not None:
            # Every level cached (the common case): decided here, with no thread hand-off.
            chain = runtime.authorizer.cached_chain(full_name, req.securable_type)
            if chain is not None:
                self._decide_on_chain(runtime, caller, req.privilege, chain)
                return
        if self.cache_seconds and full_name is not None and req.privilege is not None:
            try:
                chain = await self._chain(runtime, req, full_name)
            except NotFound:
                # Missing: the uncached path says so as this caller may be told it.
                await run_in_threadpool(_check, runtime, caller, req, full_name)
                raise
            runtime.authorizer.require_on_chain(caller, req.privilege, chain)
            return
        await run_in_threadpool(_check, runtime, caller, req, full_name, self.alternative)

    def _decide_on_chain(
        self, runtime: Runtime, caller: Caller, privilege: Privilege, chain: list[SecurableRecord]
    ) -> None:
        """:func:`_check` on a chain in hand: the alternative lets a refusal through, and a
        refusal of both names the first requirement."""
        try:
            runtime.authorizer.require_on_chain(caller, privilege, chain)
        except PermissionDenied:
            alternative = self.alternative.privilege if self.alternative else None
            if alternative is None:
                raise
            try:
                runtime.authorizer.require_on_chain(caller, alternative, chain)
            except PermissionDenied:
                pass
            else:
                return
            raise

    async def _chain(
        self, runtime: Runtime, req: Requirement, full_name: str
    ) -> list[SecurableRecord]:
        assert req.securable_type is not None
        now = time.monotonic()
        # Keyed by the name as the request spells it: a hit needs no parsing at all.
        found = self._chains.get(full_name)
        if found is not None and found[0] > now:
            return found[1]
        name = ".".join(split_full_name(full_name, req.securable_type))
        chain = await run_in_threadpool(_resolve, runtime, req.securable_type, name)
        if len(self._chains) >= _MAX_CACHED_CHAINS:
            self._chains.clear()
        self._chains[full_name] = (now + self.cache_seconds, chain)
        return chain


_MAX_CACHED_CHAINS = 4096


def _resolve(runtime: Runtime, securable_type: SecurableType, name: str) -> list[SecurableRecord]:
    with runtime.db.read() as session:
        return runtime.authorizer.resolve_chain(
            name, securable_type, runtime.stores.namespace(session)
        )


def _check(
    runtime: Runtime,
    caller: Caller,
    req: Requirement,
    full_name: str | None,
    alternative: Requirement | None = None,
) -> None:
    with runtime.db.read() as session:
        store = runtime.stores.namespace(session)
        try:
            runtime.authorizer.require(caller, req, full_name, store)
        except PermissionDenied:
            # A hidden object raised Hidden (NotFound), not this: no alternative can help.
            if alternative is None:
                raise
            try:
                runtime.authorizer.require(caller, alternative, full_name, store)
            except PermissionDenied:
                pass
            else:
                return
            raise


def require_visible(
    runtime: Runtime, caller: Caller, securable_type: SecurableType, full_name: str
) -> None:
    """For a handler whose container is optional in the request (listing models with or
    without a schema): the check a ``BROWSE`` guard makes, so a container the caller cannot
    see answers exactly as a missing one."""
    with runtime.db.read() as session:
        runtime.authorizer.require_privilege(
            caller, Privilege.BROWSE, securable_type, full_name, runtime.stores.namespace(session)
        )


async def _read_name(request: Request, source: NameFrom) -> str:
    values: list[str] = []
    if source.source is NameSource.BODY:
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidParameter("request body must be a JSON object")
        getter = body.get
    elif source.source is NameSource.PATH:
        getter = request.path_params.get
    else:
        getter = request.query_params.get
    for field_name in source.fields:
        value = getter(field_name)
        if not isinstance(value, str) or not value:
            raise InvalidParameter(f"missing required field '{field_name}'")
        values.append(value)
    return ".".join(values)


def securable_type_from_path(value: object) -> SecurableType:
    """The securable type a permissions path names, in any case. An old Databricks SDK
    passed its enum member itself, which reaches the path as ``SecurableType.CATALOG``;
    the prefix is dropped so it means what the caller meant."""
    found = None
    if isinstance(value, str):
        spelled = value.lower().removeprefix("securabletype.")
        found = API_SECURABLE_TYPES.get(spelled)
    if found is None:
        known = ", ".join(sorted(API_SECURABLE_TYPES))
        raise InvalidParameter(f"securable_type '{value}' is not one of: {known}")
    return found


def guard(
    access: Access = Access.PRIVILEGE,
    privilege: Privilege | None = None,
    on: SecurableType | None = None,
    name_from: NameFrom | None = None,
    type_from: str | None = None,
    system_table: str | None = None,
    or_privilege: Privilege | None = None,
    cache_seconds: float = 0.0,
) -> fastapi_params.Depends:
    """Declare a route's requirement, e.g. ``guard(privilege=SELECT, on=TABLE, name_from=...)``.

    ``or_privilege``: another privilege on the same securable that also suffices.
    ``cache_seconds``: for hot routes (serving invocations), keep the securable's chain
    (ids and owners of it and its containers) this long instead of reading it per request;
    the grants themselves are always the policy engine's current ones. Someone who lost
    ownership may pass for that long, as with the caches the route itself reads through.
    """
    requirement = Requirement(access, privilege, on, name_from, type_from, system_table)
    alternative = (
        Requirement(access, or_privilege, on, name_from, type_from, system_table)
        if or_privilege is not None
        else None
    )
    if cache_seconds and (alternative is not None or access is not Access.PRIVILEGE):
        raise ValueError("cache_seconds applies to one privilege requirement")
    return Depends(Guard(requirement, alternative, cache_seconds))


AUTHENTICATED = Access.AUTHENTICATED
METASTORE_ADMIN = Access.METASTORE_ADMIN
SYSTEM_TABLE = Access.SYSTEM_TABLE


def route_requirement(dependencies: list[fastapi_params.Depends]) -> Requirement | None:
    for dep in dependencies:
        if isinstance(dep.dependency, Guard):
            return dep.dependency.requirement
    return None
