"""``vigie serve``: the live map page, its JSON API and Server-Sent Events, over Starlette.

One :class:`~.kafka_io.Follower` thread feeds a :class:`~.hub.Hub`; each browser holds an
SSE stream (``/api/stream``) that first receives the current incidents, then every change.
Access: a token in ``Authorization: Bearer`` or in the ``vigie_token`` cookie set by the
login form (HttpOnly, SameSite=Strict). State-changing requests made with the cookie must
also carry the ``X-Vigie-Request`` header, which a cross-site form cannot send. Without a
valid token only the login form is served, unless anonymous local use is configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from vigie.command_center.access import AccessPolicy, Action, Decision
from vigie.command_center.acks import AckError, AckRequest, build_ack
from vigie.command_center.board import ack_view, incident_view
from vigie.command_center.citymap import load_city_map
from vigie.command_center.filters import FilterError, IncidentFilter
from vigie.command_center.hub import Hub
from vigie.command_center.kafka_io import AckPublisher, Follow, Follower, KafkaUnavailable
from vigie.command_center.watch import now_ms
from vigie.config import Settings
from vigie.core.events import IncidentAck
from vigie.kafka.serde import deserializer

log = logging.getLogger(__name__)

COOKIE = "vigie_token"
CSRF_HEADER = "x-vigie-request"
HEARTBEAT_S = 15.0
#: Put in every stream's queue when the server stops, so open streams end cleanly.
_CLOSE = "\x00close"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What the server follows and publishes to; topics are configurable for tests."""

    incidents_topic: str
    acks_topic: str
    events_topic: str | None
    city_dir: Path
    event_lookback_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServeOptions:
        """The options of a normal deployment."""
        return cls(
            incidents_topic=settings.incidents_topic,
            acks_topic=settings.incident_acks_topic,
            events_topic=settings.events_topic,
            city_dir=settings.city_dir,
            event_lookback_ms=settings.serve_event_lookback_minutes * 60_000,
        )


def _static(name: str) -> bytes:
    return resources.files("vigie.command_center").joinpath("static", name).read_bytes()


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def _refuse(decision: Decision) -> JSONResponse:
    return JSONResponse({"error": decision.reason}, status_code=decision.status)


def _filter_from(request: Request) -> IncidentFilter:
    q = request.query_params
    return IncidentFilter.build(
        min_severity=int(q.get("min_severity", "1") or 1),
        categories=q.getlist("category"),
        sectors=q.getlist("sector"),
        bbox=q.get("bbox") or None,
        include_closed=q.get("closed") in ("1", "true"),
    )


def create_app(
    settings: Settings,
    policy: AccessPolicy,
    options: ServeOptions,
    *,
    publisher_factory: Callable[[], AckPublisher] | None = None,
) -> Starlette:
    """The ASGI application; the follower starts and stops with it."""
    hub = Hub(deserializer(settings))
    city_map = load_city_map(options.city_dir)
    subscribers: set[asyncio.Queue[str]] = set()
    publisher: list[AckPublisher] = []
    loops: list[asyncio.AbstractEventLoop] = []

    def close_streams() -> None:
        for loop in loops:
            for queue in list(subscribers):
                loop.call_soon_threadsafe(queue.put_nowait, _CLOSE)

    def make_publisher() -> AckPublisher:
        if not publisher:
            factory = publisher_factory or (lambda: AckPublisher(settings, options.acks_topic))
            publisher.append(factory())
        return publisher[0]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loops.append(loop)

        def fan_out(incident_id: str) -> None:
            for queue in list(subscribers):
                loop.call_soon_threadsafe(queue.put_nowait, incident_id)

        hub.listen(fan_out)
        follows = [
            Follow(options.incidents_topic, hub.on_incident),
            Follow(options.acks_topic, hub.on_ack),
        ]
        if options.events_topic:
            since = now_ms() - options.event_lookback_ms
            follows.append(Follow(options.events_topic, hub.on_event, since_ms=since))
        follower = Follower(settings, follows, on_state=hub.set_state).start()
        try:
            yield
        finally:
            follower.stop()
            if publisher:
                publisher[0].close()

    def authorise(request: Request, action: Action) -> Decision:
        return policy.decide(_token(request), action)

    async def login_form(request: Request) -> Response:
        if request.method == "POST":
            # A urlencoded form of one field: parsed here, no multipart library needed.
            form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
            token = (form.get("token") or [""])[0]
            if policy.authenticate(token) is not None:
                response = RedirectResponse("/", status_code=303)
                response.set_cookie(
                    COOKIE, token, httponly=True, samesite="strict", path="/", max_age=12 * 3600
                )
                return response
            page = _static("login.html").decode().replace("{{message}}", "Unknown token.")
            return HTMLResponse(page, status_code=401)
        return HTMLResponse(_static("login.html").decode().replace("{{message}}", ""))

    async def logout(_request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def index(request: Request) -> Response:
        if not authorise(request, Action.VIEW).allowed:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(_static("index.html"))

    async def static(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed:
            return _refuse(decision)
        name = request.path_params["name"]
        suffix = Path(name).suffix
        if name not in {"app.js", "app.css"} or suffix not in STATIC_TYPES:
            return PlainTextResponse("not found", status_code=404)
        return Response(_static(name), media_type=STATIC_TYPES[suffix])

    async def me(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed or decision.principal is None:
            return _refuse(decision)
        p = decision.principal
        return JSONResponse({"login": p.login, "role": p.role.value, "state": hub.state})

    async def city(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed:
            return _refuse(decision)
        return JSONResponse(city_map)

    def views(flt: IncidentFilter) -> list[dict[str, Any]]:
        at = now_ms()
        with hub.lock:
            return [
                incident_view(i, hub.board.acks.get(i.incident_id), at, hub.events)
                for i in hub.board.select(flt)
            ]

    async def incidents(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed:
            return _refuse(decision)
        try:
            flt = _filter_from(request)
        except (FilterError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"state": hub.state, "incidents": views(flt)})

    async def one_incident(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed:
            return _refuse(decision)
        incident_id = request.path_params["incident_id"]
        with hub.lock:
            incident = hub.board.incidents.get(incident_id)
            view = (
                None
                if incident is None
                else incident_view(incident, hub.board.acks.get(incident_id), now_ms(), hub.events)
            )
        if view is None:
            return JSONResponse({"error": "no such incident"}, status_code=404)
        return JSONResponse(view)

    async def stream(request: Request) -> Response:
        decision = authorise(request, Action.VIEW)
        if not decision.allowed:
            return _refuse(decision)
        try:
            flt = _filter_from(request)
        except (FilterError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscribers.add(queue)

        async def events() -> AsyncIterator[str]:
            try:
                snapshot = {"state": hub.state, "incidents": views(flt)}
                yield f"event: snapshot\ndata: {json.dumps(snapshot)}\n\n"
                while True:
                    try:
                        incident_id = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        yield ": heartbeat\n\n"
                        continue
                    if incident_id == _CLOSE:
                        return
                    if not incident_id:
                        yield f"event: state\ndata: {json.dumps({'state': hub.state})}\n\n"
                        continue
                    with hub.lock:
                        incident = hub.board.incidents.get(incident_id)
                        view = (
                            incident_view(
                                incident, hub.board.acks.get(incident_id), now_ms(), hub.events
                            )
                            if incident is not None and flt.matches(incident)
                            else None
                        )
                    if view is None:
                        payload = json.dumps({"incident_id": incident_id})
                        yield f"event: remove\ndata: {payload}\n\n"
                    else:
                        yield f"event: incident\ndata: {json.dumps(view)}\n\n"
            finally:
                subscribers.discard(queue)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def post_ack(request: Request) -> Response:
        decision = authorise(request, Action.ACK)
        if not decision.allowed or decision.principal is None:
            return _refuse(decision)
        uses_cookie = not request.headers.get("authorization")
        if uses_cookie and request.headers.get(CSRF_HEADER) != "1":
            return JSONResponse({"error": f"missing {CSRF_HEADER} header"}, status_code=403)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            ack = build_ack(
                AckRequest(
                    incident_id=str(body.get("incident_id") or ""),
                    action=str(body.get("action") or "ack"),
                    assignee=_opt_str(body.get("assignee")),
                    note=_opt_str(body.get("note")),
                ),
                operator=decision.principal.login,
                at_ms=now_ms(),
                ack_id=str(uuid.uuid4()),
            )
        except AckError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        try:
            await asyncio.to_thread(_publish, make_publisher, ack)
        except KafkaUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse(ack_view(ack) | {"incident_id": ack.incident_id}, status_code=201)

    routes = [
        Route("/", index),
        Route("/login", login_form, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/api/me", me),
        Route("/api/map", city),
        Route("/api/incidents", incidents),
        Route("/api/incidents/{incident_id}", one_incident),
        Route("/api/stream", stream),
        Route("/api/acks", post_ack, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.hub = hub
    app.state.close_streams = close_streams
    return app


def _publish(make_publisher: Callable[[], AckPublisher], ack: IncidentAck) -> None:
    make_publisher().publish(ack)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def serve(settings: Settings, options: ServeOptions, host: str, port: int) -> None:
    """Run the server until interrupted (no access log: URLs and clients stay out of logs)."""
    import uvicorn

    policy = AccessPolicy.from_settings(settings, bind_host=host)
    app = create_app(settings, policy, options)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=5,
    )

    class _Server(uvicorn.Server):
        """Ends the open event streams first, so stopping does not wait on browsers."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.close_streams()
            super().handle_exit(sig, frame)

    _Server(config).run()
