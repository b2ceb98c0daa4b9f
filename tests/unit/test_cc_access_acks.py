import asyncio
import json
from pathlib import Path

import pytest
from cc_samples import T0
from pydantic import SecretStr

from vigie.command_center.access import (
    ANONYMOUS_LOGIN,
    AccessPolicy,
    AccessRole,
    Action,
    Principal,
    is_loopback,
)
from vigie.command_center.acks import AckError, AckRequest, build_ack
from vigie.command_center.server import ServeOptions, create_app
from vigie.config import ConfigError, Settings
from vigie.core.events import AckAction

pytestmark = pytest.mark.unit

OP_TOKEN = "operator-token-0123456789"
VIEW_TOKEN = "viewer-token-0123456789ab"
ACK_ID = "5f0c1c8e-7d1a-4a43-9a53-3f1f5a9b2c10"


def settings(**values) -> Settings:
    base = {
        "operator_tokens": {"alice": OP_TOKEN},
        "viewer_tokens": {"victor": VIEW_TOKEN},
    }
    return Settings(**(base | values))


def policy(**values) -> AccessPolicy:
    return AccessPolicy.from_settings(settings(**values))


# --- access decisions ------------------------------------------------------------------------


def test_tokens_map_to_logins_and_roles():
    p = policy()
    assert p.authenticate(OP_TOKEN) == Principal("alice", AccessRole.OPERATOR)
    assert p.authenticate(VIEW_TOKEN) == Principal("victor", AccessRole.VIEWER)
    assert p.authenticate("not-a-token-at-all") is None
    assert p.authenticate(None) is None


@pytest.mark.parametrize(
    ("token", "action", "status"),
    [
        (OP_TOKEN, Action.VIEW, 200),
        (OP_TOKEN, Action.ACK, 200),
        (VIEW_TOKEN, Action.VIEW, 200),
        (VIEW_TOKEN, Action.ACK, 403),
        (None, Action.VIEW, 401),
        (None, Action.ACK, 401),
        ("wrong-token-0123456789", Action.VIEW, 401),
    ],
)
def test_decisions(token, action, status):
    decision = policy().decide(token, action)
    assert decision.status == status
    assert decision.allowed is (status == 200)


def test_nothing_served_without_tokens_unless_explicitly_local():
    with pytest.raises(ConfigError, match="no access tokens"):
        AccessPolicy.from_settings(Settings(operator_tokens={}, viewer_tokens={}))
    local = AccessPolicy.from_settings(
        Settings(serve_allow_anonymous_local=True), bind_host="127.0.0.1"
    )
    assert local.decide(None, Action.ACK).principal == Principal(
        ANONYMOUS_LOGIN, AccessRole.OPERATOR
    )
    # a wrong token is still refused in local mode
    assert local.decide("wrong-token-0123456789", Action.VIEW).status == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.invalid"])
def test_anonymous_mode_refused_off_loopback(host):
    with pytest.raises(ConfigError, match="loopback"):
        AccessPolicy.from_settings(Settings(serve_allow_anonymous_local=True), bind_host=host)


def test_anonymous_mode_refused_in_production():
    with pytest.raises(ConfigError, match="production"):
        AccessPolicy.from_settings(
            Settings(serve_allow_anonymous_local=True, profile="production"), bind_host="127.0.0.1"
        )


def test_short_or_shared_tokens_are_refused():
    with pytest.raises(ConfigError, match="shorter than 16"):
        policy(operator_tokens={"bob": SecretStr("short")})
    with pytest.raises(ConfigError, match="both as operator and viewer"):
        policy(viewer_tokens={"alice": VIEW_TOKEN})


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
    ],
)
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_tokens_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("VIGIE_OPERATOR_TOKENS", json.dumps({"carla": OP_TOKEN}))
    s = Settings()
    assert s.operator_tokens["carla"].get_secret_value() == OP_TOKEN
    assert OP_TOKEN not in repr(s)


# --- acknowledgement validation --------------------------------------------------------------


def build(request: AckRequest, operator: str = "alice", at_ms: int = T0, ack_id: str = ACK_ID):
    return build_ack(request, operator=operator, at_ms=at_ms, ack_id=ack_id)


def test_valid_ack_assign_release():
    a = build(AckRequest(" inc-1 ", "ACK", None, "  on it "))
    assert (a.incident_id, a.action, a.operator, a.at, a.note, a.assignee) == (
        "inc-1",
        AckAction.ACK,
        "alice",
        T0,
        "on it",
        None,
    )
    assert build(AckRequest("inc-1", "assign", "unit 12")).assignee == "unit 12"
    assert build(AckRequest("inc-1", "release")).action is AckAction.RELEASE
    assert build(AckRequest("inc-1", note="   ")).note is None


@pytest.mark.parametrize(
    ("request_", "kwargs", "message"),
    [
        (AckRequest(""), {}, "incident_id is empty"),
        (AckRequest("inc 1"), {}, "letters, digits"),
        (AckRequest("x" * 129), {}, r"\(128 at most\)"),
        (AckRequest("inc-1", "close"), {}, "action must be one of"),
        (AckRequest("inc-1", "unknown"), {}, "action must be one of"),
        (AckRequest("inc-1", "assign"), {}, "assign needs an assignee"),
        (AckRequest("inc-1", "assign", "  "), {}, "assign needs an assignee"),
        (AckRequest("inc-1", "ack", "unit 12"), {}, "only assign takes an assignee"),
        (AckRequest("inc-1", note="n" * 501), {}, "note is longer than 500"),
        (AckRequest("inc-1", note="bell\x07"), {}, "control characters"),
        (AckRequest("inc-1", "assign", "u\x1b[31m"), {}, "control characters"),
        (AckRequest("inc-1"), {"operator": " "}, "operator is empty"),
        (AckRequest("inc-1"), {"at_ms": 0}, "positive"),
        (AckRequest("inc-1"), {"ack_id": "not-a-uuid"}, "UUID"),
    ],
)
def test_invalid_acks_are_refused(request_, kwargs, message):
    with pytest.raises(AckError, match=message):
        build(request_, **kwargs)


def test_unknown_action_from_old_reader_is_not_an_action():
    assert "unknown" not in {a.value for a in AckAction}


# --- the HTTP layer refuses before anything is published --------------------------------------


def call(
    app, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One HTTP request straight through the ASGI app (no lifespan, so no Kafka)."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8650),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.fixture
def app(tmp_path: Path):
    s = settings()
    options = ServeOptions("incidents-x", "acks-x", None, tmp_path / "nowhere", 60_000)

    def no_publisher():
        msg = "a refused request must never reach the publisher"
        raise AssertionError(msg)

    return create_app(s, AccessPolicy.from_settings(s), options, publisher_factory=no_publisher)


def ack_body(**values) -> bytes:
    return json.dumps({"incident_id": "inc-1", "action": "ack"} | values).encode()


def test_viewer_cannot_ack_403(app):
    status, body = call(
        app, "POST", "/api/acks", {"authorization": f"Bearer {VIEW_TOKEN}"}, ack_body()
    )
    assert status == 403
    assert b"viewers cannot" in body


def test_viewer_cannot_ack_with_cookie_either(app):
    headers = {"cookie": f"vigie_token={VIEW_TOKEN}", "x-vigie-request": "1"}
    assert call(app, "POST", "/api/acks", headers, ack_body())[0] == 403


def test_no_token_401_everywhere(app):
    for path in ("/api/me", "/api/map", "/api/incidents", "/api/stream", "/static/app.js"):
        assert call(app, "GET", path, {})[0] == 401, path
    assert call(app, "POST", "/api/acks", {}, ack_body())[0] == 401
    status, _ = call(app, "GET", "/", {})
    assert status == 303  # to the login form


def test_login_form_is_the_only_page_without_token(app):
    status, body = call(app, "GET", "/login", {})
    assert status == 200
    assert b"Access token" in body


def test_cookie_ack_needs_the_csrf_header(app):
    status, body = call(app, "POST", "/api/acks", {"cookie": f"vigie_token={OP_TOKEN}"}, ack_body())
    assert status == 403
    assert b"x-vigie-request" in body


def test_operator_invalid_ack_400(app):
    headers = {"authorization": f"Bearer {OP_TOKEN}", "content-type": "application/json"}
    status, body = call(app, "POST", "/api/acks", headers, ack_body(action="assign"))
    assert status == 400
    assert b"assignee" in body
    assert call(app, "POST", "/api/acks", headers, b"not json")[0] == 400


def test_viewer_sees_incidents_and_who_they_are(app):
    headers = {"authorization": f"Bearer {VIEW_TOKEN}"}
    status, body = call(app, "GET", "/api/me", headers)
    assert status == 200
    assert json.loads(body)["role"] == "viewer"
    status, body = call(app, "GET", "/api/incidents?min_severity=9", headers)
    assert status == 400
    status, body = call(app, "GET", "/api/incidents?min_severity=3", headers)
    assert (status, json.loads(body)["incidents"]) == (200, [])
