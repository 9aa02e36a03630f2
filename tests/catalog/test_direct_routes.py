"""Direct routes (catalog/http/direct.py): answered without FastAPI's router and solver, with
the same dependencies, parameters, errors and audit as through the router."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.responses import Response

from catalog.http.deps import BearerDep
from catalog.http.direct import DIRECT, DirectRoutesMiddleware, direct_routes, json_answer
from catalog.http.errors import install_error_handlers
from catalog.http.middleware import RequestContextMiddleware
from common.errors import NotFound

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recording:
    """A guard-shaped dependency: an object whose ``__call__`` takes the request and the
    bearer credentials, as catalog.http.guards.Guard does."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def __call__(self, request: Request, _credentials: BearerDep) -> None:
        self.calls.append(f"guard:{request.path_params['name']}")
        if request.path_params["name"] == "missing":
            raise NotFound("ENDPOINT 'missing' does not exist")


def make_app(calls: list[str]) -> FastAPI:
    async def app_wide(request: Request) -> None:
        calls.append(f"app:{request.scope['route'].operation_id}")

    async def body_first(request: Request) -> None:
        calls.append(f"body:{len(await request.body())}")

    router = APIRouter()

    @router.post(
        "/things/{name}/run",
        dependencies=[Depends(body_first), Depends(Recording(calls))],
        operation_id="runThing",
        openapi_extra=DIRECT,
    )
    async def run(name: str, request: Request) -> JSONResponse:
        calls.append(f"handler:{name}")
        if name == "boom":
            raise RuntimeError("unexpected")
        return JSONResponse({"name": name, "state": request.state.request_id != ""})

    @router.get("/things/{name}/run", operation_id="describeThing")
    async def describe(name: str) -> dict[str, str]:
        calls.append(f"router:{name}")
        return {"name": name}

    return served(router, Depends(app_wide))


def served(router: APIRouter, *app_wide: Any) -> FastAPI:
    """An app of ``router`` (and ``app_wide`` dependencies) with Steward's error handlers,
    the direct path and the request context (its request id), as the server stacks them."""
    app = FastAPI(dependencies=list(app_wide))
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(DirectRoutesMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_direct_route_runs_its_dependencies_in_order_without_the_router(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routed: list[str] = []
    original = APIRoute.handle

    async def counting(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        routed.append(self.path)
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", counting)
    calls: list[str] = []
    async with client(make_app(calls)) as http:
        answer = await http.post("/things/a1/run", content=b"12345")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"name": "a1", "state": True}
        assert answer.headers["x-request-id"]
        assert calls == ["app:runThing", "body:5", "guard:a1", "handler:a1"]
        assert routed == []  # answered before the router
        # A method the direct route does not take goes through the router as before.
        calls.clear()
        described = await http.get("/things/a1/run")
        assert described.status_code == 200 and calls == ["app:describeThing", "router:a1"]
        assert routed == ["/things/{name}/run"]
        # The OpenAPI document still has the route.
        paths = (await http.get("/openapi.json")).json()["paths"]
        assert "post" in paths["/things/{name}/run"]


async def test_errors_go_to_the_apps_handlers() -> None:
    calls: list[str] = []
    async with client(make_app(calls)) as http:
        missing = await http.post("/things/missing/run")
        assert missing.status_code == 404
        body = missing.json()
        assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "missing" in body["message"] and body["request_id"]
        assert calls[-1] == "guard:missing"  # the handler never ran
        boom = await http.post("/things/boom/run")
        assert boom.status_code == 500
        assert boom.json()["error_code"] == "INTERNAL_ERROR"
        assert "unexpected" not in boom.text


async def runtime_of(request: Request) -> str:
    request.app.state.calls.append("runtime")
    return "rt"


RuntimeDep = Annotated[str, Depends(runtime_of)]


async def caller_of(request: Request, rt: RuntimeDep, _credentials: BearerDep) -> str:
    request.app.state.calls.append(f"caller:{rt}")
    return "alice"


CallerDep = Annotated[str, Depends(caller_of)]


def query_app(calls: list[str], direct: bool) -> FastAPI:
    """A route with query parameters and sub-dependencies, marked direct or not: the two
    must answer alike."""
    router = APIRouter()

    @router.get(
        "/things/{name}",
        operation_id="getThing",
        openapi_extra=DIRECT if direct else None,
    )
    async def get_thing(
        name: str,
        rt: RuntimeDep,
        caller: CallerDep,
        verbose: bool = True,
        limit: int | None = None,
    ) -> JSONResponse:
        return JSONResponse(
            {"name": name, "rt": rt, "caller": caller, "verbose": verbose, "limit": limit}
        )

    app = served(router)
    app.state.calls = calls
    return app


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?verbose=false",
        "?verbose=0&limit=7",
        "?limit=-3&limit=4",
        "?verbose=maybe",
        "?limit=seven",
        "?verbose=no&limit=1e3",
        "?other=1",
    ],
)
async def test_query_parameters_and_sub_dependencies_answer_as_through_the_router(
    query: str,
) -> None:
    answers = []
    for direct in (True, False):
        calls: list[str] = []
        async with client(query_app(calls, direct)) as http:
            answer = await http.get(f"/things/t1{query}")
        body = answer.json()
        body.pop("request_id", None)
        answers.append((answer.status_code, body))
        # The runtime is solved once though two parameters need it, as FastAPI caches it.
        if answer.status_code == 200:
            assert calls == ["runtime", "caller:rt"], (direct, calls)
    assert answers[0] == answers[1]
    if query == "?verbose=maybe":
        assert answers[0][0] == 400 and "verbose" in answers[0][1]["message"]


async def test_requests_without_a_query_string_get_the_defaults_each_time() -> None:
    """The defaults are kept after the first request without a query string: a request
    with one in between changes nothing for the next without."""
    bodies = []
    async with client(query_app([], direct=True)) as http:
        for query in ("", "", "?verbose=false&limit=3", ""):
            answer = await http.get(f"/things/t1{query}")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            bodies.append((body["verbose"], body["limit"]))
    assert bodies == [(True, None), (True, None), (False, 3), (True, None)]


def typed_path_app(direct: bool) -> FastAPI:
    """A route with a path parameter that is a number (a model version's, say)."""
    router = APIRouter()

    @router.get("/things/{name}/versions/{version}", openapi_extra=DIRECT if direct else None)
    async def get_version(name: str, version: int) -> JSONResponse:
        return JSONResponse({"name": name, "version": version, "type": type(version).__name__})

    return served(router)


@pytest.mark.parametrize("version", ["3", "0", "-2", "x", "1.5", "99999999999999999999"])
async def test_path_parameters_that_are_not_text_are_validated_as_through_the_router(
    version: str,
) -> None:
    answers = []
    for direct in (True, False):
        async with client(typed_path_app(direct)) as http:
            answer = await http.get(f"/things/t1/versions/{version}")
        body = answer.json()
        body.pop("request_id", None)
        answers.append((answer.status_code, body))
    assert answers[0] == answers[1]
    if version == "3":
        assert answers[0] == (200, {"name": "t1", "version": 3, "type": "int"})
    if version == "x":
        assert answers[0][0] == 400 and "version" in answers[0][1]["message"]


class Inner(BaseModel):
    key: str
    note: str | None = None


class Answer(BaseModel):
    """Aliases, defaults, None and a nested list: what FastAPI's serialisation decides."""

    name: str
    kind: str = Field(alias="type")
    comment: str | None = None
    items: list[Inner] = []


ANSWER = Answer.model_validate(
    {"name": "m", "type": "MODEL", "items": [{"key": "a"}, {"key": "b", "note": "n"}]}
)


def answer_app() -> FastAPI:
    """The same model answered by FastAPI (returned) and by json_answer (a direct route),
    with and without ``response_model_exclude_none``."""
    router = APIRouter()

    @router.get("/fastapi/full")
    async def fastapi_full() -> Answer:
        return ANSWER

    @router.get("/fastapi/lean", response_model_exclude_none=True)
    async def fastapi_lean() -> Answer:
        return ANSWER

    @router.get("/direct/{which}", response_model=Answer, openapi_extra=DIRECT)
    async def direct(which: str) -> Response:
        return json_answer(ANSWER, exclude_none=which == "lean")

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(DirectRoutesMiddleware)
    return app


@pytest.mark.parametrize("which", ["full", "lean"])
async def test_json_answer_is_what_fastapi_sends_for_the_model(which: str) -> None:
    async with client(answer_app()) as http:
        by_fastapi = await http.get(f"/fastapi/{which}")
        by_direct = await http.get(f"/direct/{which}")
    assert by_direct.status_code == by_fastapi.status_code == 200
    assert by_direct.content == by_fastapi.content
    assert by_direct.headers["content-type"] == by_fastapi.headers["content-type"]
    assert ("comment" in by_direct.json()) is (which == "full")


def test_a_route_the_direct_path_cannot_run_is_refused_when_the_app_is_built() -> None:
    router = APIRouter()

    @router.post("/things/{name}", openapi_extra=DIRECT)
    async def needs_header(name: str, x_tenant: Annotated[str, Header()]) -> JSONResponse:
        return JSONResponse({})

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(TypeError, match="'x_tenant'"):
        direct_routes(app)

    model_router = APIRouter()

    @model_router.get("/things/{name}", openapi_extra=DIRECT)
    async def returns_a_model(name: str) -> dict[str, Any]:
        return {}

    model_app = FastAPI()
    model_app.include_router(model_router)
    with pytest.raises(TypeError, match="must return a Response"):
        direct_routes(model_app)

    async def plain_dependency() -> None:
        return None

    def threaded_dependency() -> None:
        return None

    sync_router = APIRouter()

    @sync_router.post(
        "/sync/{name}", dependencies=[Depends(threaded_dependency)], openapi_extra=DIRECT
    )
    async def with_a_threaded_dependency(name: str) -> JSONResponse:
        return JSONResponse({})

    sync_app = FastAPI()
    sync_app.include_router(sync_router)
    with pytest.raises(TypeError, match="async"):
        direct_routes(sync_app)

    two_bodies = APIRouter()

    @two_bodies.post("/two/{name}", dependencies=[Depends(plain_dependency)], openapi_extra=DIRECT)
    async def takes_two(name: str, first: Inner, second: Inner) -> JSONResponse:
        return JSONResponse({})

    two_app = FastAPI()
    two_app.include_router(two_bodies)
    with pytest.raises(TypeError, match="more than one JSON body"):
        direct_routes(two_app)


def test_the_serving_invocation_route_is_direct() -> None:
    from registry.http.routes.serving import invocations

    (route,) = [r for r in invocations.routes if isinstance(r, APIRoute)]
    assert route.openapi_extra and route.openapi_extra.get("x-steward-direct")


def test_create_table_and_sql_statements_are_direct() -> None:
    from catalog.http.routes.statements import router as statements
    from catalog.http.routes.tables import router as tables

    operations = {
        r.operation_id
        for r in (*statements.routes, *tables.routes)
        if isinstance(r, APIRoute) and r.openapi_extra and r.openapi_extra.get("x-steward-direct")
    }
    assert {"createTable", "executeStatement"} <= operations


# -- a JSON body -------------------------------------------------------------------------


class NewThing(BaseModel):
    name: str = Field(min_length=1, max_length=8)
    size: int = 1
    tags: list[str] = []
    parent: Inner | None = None


def body_app(direct: bool, calls: list[str]) -> FastAPI:
    """A plain (threaded) handler taking a body model behind a guard-shaped dependency
    that refuses the name ``forbidden``: direct or through the router."""

    async def guard(request: Request) -> None:
        calls.append("guard")
        if request.path_params["name"] == "forbidden":
            raise NotFound("THING 'forbidden' does not exist")

    router = APIRouter()

    @router.post(
        "/things/{name}",
        dependencies=[Depends(guard)],
        openapi_extra=DIRECT if direct else None,
    )
    def create(name: str, body: NewThing, limit: int | None = None) -> JSONResponse:
        import threading

        calls.append("handler")
        return JSONResponse(
            {
                "name": name,
                "body": body.model_dump(),
                "limit": limit,
                "worker_thread": threading.current_thread() is not threading.main_thread(),
            }
        )

    return served(router)


BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("valid", b'{"name": "a", "size": 3, "tags": ["x"]}', {"content-type": "application/json"}),
    ("nested", b'{"name": "a", "parent": {"key": "k"}}', {"content-type": "application/json"}),
    ("charset", b'{"name": "a"}', {"content-type": "application/json; charset=utf-8"}),
    ("plus-json", b'{"name": "a"}', {"content-type": "application/merge-patch+json"}),
    ("invalid-json", b'{"name": "a",', {"content-type": "application/json"}),
    ("not-utf8", b'{"name": "\xff\xfe"}', {"content-type": "application/json"}),
    ("wrong-type", b'{"name": "a", "size": "big"}', {"content-type": "application/json"}),
    ("too-long", b'{"name": "abcdefghij"}', {"content-type": "application/json"}),
    ("missing", b'{"size": 2}', {"content-type": "application/json"}),
    ("array", b"[1, 2]", {"content-type": "application/json"}),
    ("null", b"null", {"content-type": "application/json"}),
    ("empty", b"", {"content-type": "application/json"}),
    ("no-content-type", b'{"name": "a"}', {}),
    ("text-plain", b'{"name": "a"}', {"content-type": "text/plain"}),
    ("nested-wrong", b'{"name": "a", "parent": {"note": 1}}', {"content-type": "application/json"}),
]


@pytest.mark.parametrize(("case", "content", "headers"), BODIES, ids=[b[0] for b in BODIES])
@pytest.mark.parametrize("name", ["t1", "forbidden"])
@pytest.mark.parametrize("query", ["", "?limit=3", "?limit=x"])
async def test_a_body_answers_as_through_the_router(
    case: str, content: bytes, headers: dict[str, str], name: str, query: str
) -> None:
    answers = []
    for direct in (True, False):
        calls: list[str] = []
        async with client(body_app(direct, calls)) as http:
            answer = await http.post(f"/things/{name}{query}", content=content, headers=headers)
        body = answer.json()
        body.pop("request_id", None)
        answers.append((answer.status_code, body, calls))
    assert answers[0] == answers[1], case
    status, body, calls = answers[0]
    if case in {"invalid-json", "not-utf8"}:  # parsed before the dependencies run
        assert status == 400 and calls == []
    elif name == "forbidden":
        assert status == 404 and calls == ["guard"]
    elif case in {"valid", "nested", "charset", "plus-json"} and query != "?limit=x":
        assert status == 200 and calls == ["guard", "handler"]
        assert body["worker_thread"] is True  # a plain handler runs on a worker thread
    else:
        assert status == 400 and calls == ["guard"], body


async def test_a_body_over_the_limit_is_refused_as_through_the_router() -> None:
    from catalog.http.middleware import BodyLimitMiddleware

    answers = []
    for direct in (True, False):
        app = body_app(direct, [])
        app.add_middleware(BodyLimitMiddleware, max_bytes=64)

        async def chunks() -> Any:
            yield b'{"name": "a", "tags": ['
            for _ in range(20):
                yield b'"xxxxxxxx",'
            yield b'"x"]}'

        async with client(app) as http:
            answer = await http.post(
                "/things/t1", content=chunks(), headers={"content-type": "application/json"}
            )
        body = answer.json()
        body.pop("request_id", None)
        answers.append((answer.status_code, body))
    assert answers[0] == answers[1]
    assert answers[0][0] == 413
