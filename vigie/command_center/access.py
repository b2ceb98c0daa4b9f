"""Who may see and who may acknowledge: tokens to principals, principals to decisions.

Operators and viewers are configured as ``login -> token``; a request presents a token and
becomes that login with its role. Without a token nothing is served, unless the deployment
explicitly allows anonymous local use (``VIGIE_SERVE_ALLOW_ANONYMOUS_LOCAL``), which this
module refuses on any address but loopback or in the production profile. Tokens are compared
in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from vigie.config import ConfigError, Settings

#: Login recorded on acknowledgements made without a token in anonymous local mode.
ANONYMOUS_LOGIN = "local"


class AccessRole(StrEnum):
    """What a principal may do."""

    VIEWER = "viewer"  # see incidents, the map and the evidence
    OPERATOR = "operator"  # and acknowledge, assign, release


class Action(StrEnum):
    """What a request wants to do."""

    VIEW = "view"
    ACK = "ack"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user of the command center."""

    login: str
    role: AccessRole


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request: allowed, or the HTTP status and reason to refuse with."""

    allowed: bool
    status: int
    reason: str
    principal: Principal | None = None


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Tokens of operators and viewers, and whether anonymous local use is on."""

    operators: Mapping[str, SecretStr]
    viewers: Mapping[str, SecretStr]
    allow_anonymous: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, bind_host: str | None = None) -> AccessPolicy:
        """The policy a server bound to ``bind_host`` enforces; refuses unsafe setups."""
        host = bind_host or settings.serve_host
        for login, token in {**settings.operator_tokens, **settings.viewer_tokens}.items():
            if len(token.get_secret_value()) < 16:
                msg = f"the token of {login!r} is shorter than 16 characters; use a random one"
                raise ConfigError(msg)
        shared = set(settings.operator_tokens) & set(settings.viewer_tokens)
        if shared:
            msg = f"{sorted(shared)} listed both as operator and viewer; keep one role each"
            raise ConfigError(msg)
        if settings.serve_allow_anonymous_local:
            if settings.profile == "production":
                msg = "VIGIE_SERVE_ALLOW_ANONYMOUS_LOCAL is refused in the production profile"
                raise ConfigError(msg)
            if not is_loopback(host):
                msg = (
                    f"VIGIE_SERVE_ALLOW_ANONYMOUS_LOCAL needs a loopback address, not {host!r}: "
                    "set VIGIE_SERVE_HOST=127.0.0.1 or configure tokens"
                )
                raise ConfigError(msg)
        elif not settings.operator_tokens and not settings.viewer_tokens:
            msg = (
                "no access tokens configured: set VIGIE_OPERATOR_TOKENS (and optionally "
                'VIGIE_VIEWER_TOKENS) as JSON {"login": "token"}, or for local use only '
                "VIGIE_SERVE_ALLOW_ANONYMOUS_LOCAL=true"
            )
            raise ConfigError(msg)
        return cls(
            operators=dict(settings.operator_tokens),
            viewers=dict(settings.viewer_tokens),
            allow_anonymous=settings.serve_allow_anonymous_local,
        )

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal a token belongs to; None for a missing or unknown token."""
        if token:
            presented = token.encode()
            found: Principal | None = None
            # Compare against every token so timing does not reveal which one matched.
            for role, table in (
                (AccessRole.OPERATOR, self.operators),
                (AccessRole.VIEWER, self.viewers),
            ):
                for login, secret in table.items():
                    if hmac.compare_digest(presented, secret.get_secret_value().encode()):
                        found = found or Principal(login, role)
            return found
        if self.allow_anonymous:
            return Principal(ANONYMOUS_LOGIN, AccessRole.OPERATOR)
        return None

    def decide(self, token: str | None, action: Action) -> Decision:
        """Allow or refuse ``action`` for whoever holds ``token``."""
        principal = self.authenticate(token)
        if principal is None:
            reason = "a valid token is required" if token is None else "unknown token"
            return Decision(False, 401, reason)
        if action is Action.ACK and principal.role is not AccessRole.OPERATOR:
            return Decision(False, 403, "viewers cannot acknowledge or assign", principal)
        return Decision(True, 200, "ok", principal)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
