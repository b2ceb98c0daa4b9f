"""One typed configuration for every Vigie command, read once from the environment.

Every setting has a default that works on a laptop; override any of them with an environment
variable ``VIGIE_<NAME>`` (for example ``VIGIE_KAFKA_PORT=19092``) or a ``.env`` file in the
working directory. Commands call :func:`load_settings` once and pass the result down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigie.errors import VigieError

#: Root of the source checkout (schemas, cities and rules live beside the package).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Longest retention of camera-derived data: French law keeps video-protection recordings one
#: month at most (Code de la sécurité intérieure, art. L252-5).
CAMERA_RETENTION_MAX_DAYS = 30


class ConfigError(VigieError):
    """A setting is wrong; the message says which one and how to fix it."""


class Settings(BaseSettings):
    """Every knob of a Vigie deployment, local or production."""

    model_config = SettingsConfigDict(env_prefix="VIGIE_", env_file=".env", extra="ignore")

    profile: Literal["local", "production"] = Field(
        "local", description="production refuses to start without secrets such as the key"
    )
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "vigie",
        description="where the local stack keeps binaries, data and logs",
    )
    host: str = Field("127.0.0.1", description="address the local services bind to")

    # Kafka
    kafka_port: int = Field(19092, ge=1, le=65535)
    kafka_controller_port: int = Field(19093, ge=1, le=65535)
    kafka_version: str = "4.1.1"
    kafka_bootstrap: str | None = Field(
        None, description="external brokers; default is the local stack's broker"
    )
    topic_partitions: int = Field(2, ge=1, description="default partitions of data topics")
    # --- Topics and serde (vigie/kafka, vigie/core/serde) -----------------------------------
    topic_replication_factor: int = Field(
        1, ge=1, description="default replication of declared topics (3 in production)"
    )
    # ------------------------------------------------------------------------------------

    # ClickHouse
    clickhouse_port: int = Field(19000, ge=1, le=65535, description="native protocol port")
    clickhouse_http_port: int = Field(18123, ge=1, le=65535)
    clickhouse_host: str | None = Field(None, description="external server; default local")
    clickhouse_database: str = "vigie"
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")

    # --- Analytics store (vigie/store): roles, personal data, retention ---------------------
    clickhouse_private_database: str = Field(
        "vigie_private",
        description="database of pseudonymised personal fields; analysts cannot read it",
    )
    clickhouse_writer_user: str = Field("vigie_writer", description="the sink's user")
    clickhouse_writer_password: SecretStr | None = Field(
        None, description="required in production; a development default locally"
    )
    clickhouse_analyst_user: str = Field("vigie_analyst", description="read-only analysts")
    clickhouse_analyst_password: SecretStr | None = Field(
        None, description="required in production; a development default locally"
    )
    personal_attribute_keys: tuple[str, ...] = Field(
        (),
        description="event attributes kept out of analysts' reach, beside every *_pseudonym key",
    )
    retention_camera_days: int = Field(
        30, ge=1, description="camera-derived data; at most 30 (French video-protection rule)"
    )
    retention_events_days: int = Field(365, ge=1, description="other normalised events")
    retention_incidents_days: int = Field(730, ge=1, description="incidents, evidence, acks")
    retention_rollups_days: int = Field(1825, ge=1, description="hourly rollups")
    # ------------------------------------------------------------------------------------

    # Flink
    flink_kafka_connector: str = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2"
    flink_parallelism: int = Field(1, ge=1)
    flink_checkpoint_ms: int = Field(5000, ge=100)
    # --- Proof (fault tests, bench): checkpoints on disk, restart from the latest -----------
    flink_checkpoint_dir: Path | None = Field(
        None,
        description="keep checkpoints in this folder, retained when the job stops or dies "
        "(default for embedded jobs: <data_dir>/flink/checkpoints; memory keeps only 5 MB)",
    )
    flink_restore_from: Path | None = Field(
        None, description="start the job from this retained checkpoint (a chk-N folder)"
    )
    # ------------------------------------------------------------------------------------
    flink_embedded: bool = Field(
        True,
        description="jobs start their own MiniCluster (local); false on a Flink cluster, "
        "whose own configuration then decides memory and ports",
    )

    # Streaming jobs (normalise, fuse)
    fusion_cell_m: float = Field(
        # Local default: the whole city in 9 keys. Each event is also sent to every cell
        # whose halo it reaches, so small cells multiply the work of one parallel instance
        # (3.3 copies per event at 5 km, 1.25 at 15 km); the Helm chart sets smaller cells
        # where there are subtasks to spread them over.
        15000.0,
        gt=0,
        description="side of the spatial cells fuse is keyed by, metres",
    )
    dedupe_window_s: int = Field(3600, ge=0, description="how long normalise remembers ids")
    watermark_delay_s: dict[str, int] = Field(
        default_factory=lambda: {
            # Measured on the simulated city (p99 of how far a record's event time lies
            # behind the newest one already read from its feed): CAD exports list calls
            # by dispatch, up to ~30 min after the call; cameras and GTFS-RT are near
            # real time; weather observations come every 30 min.
            "police": 1800,
            "fire": 900,
            "camera": 120,
            "transport": 120,
            "weather": 1800,
            "permits": 3600,
        },
        description="bounded out-of-orderness per feed (JSON in VIGIE_WATERMARK_DELAY_S)",
    )
    idle_after_s: int = Field(30, ge=1, description="a quiet feed stops holding back time")
    source_fetch_bytes: int = Field(
        # Kafka hands a consumer one partition's fetch at a time, so reading a backlog, one
        # partition runs this many bytes ahead of the others before the next is read; fusion
        # rolls back for each older event of the others that then arrives. Small fetches
        # keep partitions interleaved (docs/performance.md).
        65_536,
        ge=1024,
        description="most bytes the jobs' Kafka sources fetch from one partition at a time",
    )
    fusion_ahead_s: int = Field(
        # Reading a backlog, Kafka hands out some partitions hours ahead of others; an event
        # further ahead of the watermark than this waits for it instead of being linked now
        # and rolled back for every older event still to come (docs/performance.md). Live
        # events lie within the largest watermark delay of the watermark and never wait.
        7200,
        ge=0,
        description="events further ahead of the watermark wait for it (0: never wait); "
        "must exceed every watermark delay",
    )
    job_group_prefix: str = Field("vigie", description="Kafka consumer group prefix of jobs")

    # Schema registry: empty means Avro single-object encoding resolved against schemas/.
    schema_registry_url: str | None = None

    # --- Deployment (deploy/helm): metrics endpoint and ClickHouse cluster mode -------------
    metrics_port: int = Field(
        9108, ge=0, le=65535, description="port of /metrics (vigie.metrics), 0 = any free port"
    )
    clickhouse_cluster: str = Field(
        "",
        description="empty: one server; a cluster name: replicated tables behind Distributed ones",
    )
    # ------------------------------------------------------------------------------------

    # City and fusion
    city: str = Field("marseille", description="folder under cities/ with the city's data")
    cities_dir: Path = REPO_ROOT / "cities"
    schemas_dir: Path = REPO_ROOT / "schemas"

    # Privacy
    pseudonym_key: SecretStr | None = Field(
        None, description="HMAC key for personal identifiers (or VIGIE_PSEUDONYM_KEY_FILE)"
    )
    pseudonym_key_file: Path | None = None

    # --- Command center (vigie watch / serve / ack) ------------------------------------------
    incidents_topic: str = Field("incidents", description="compacted topic of incidents")
    incident_acks_topic: str = Field("incident-acks", description="operators' acknowledgements")
    events_topic: str = Field(
        "events.normalized", description="normalised events, read for the evidence timeline"
    )
    serve_host: str = Field("127.0.0.1", description="address `vigie serve` binds to")
    serve_port: int = Field(8650, ge=1, le=65535, description="port of `vigie serve`")
    operator_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='operators who may acknowledge: JSON {"login": "token", ...}',
    )
    viewer_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description='read-only viewers: JSON {"login": "token", ...}'
    )
    serve_allow_anonymous_local: bool = Field(
        False,
        description="serve without a token (as operator 'local') on a loopback address only",
    )
    serve_event_lookback_minutes: int = Field(
        360, ge=1, description="how far back `vigie serve` reads events for evidence details"
    )
    # ------------------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        ports = {
            "VIGIE_KAFKA_PORT": self.kafka_port,
            "VIGIE_KAFKA_CONTROLLER_PORT": self.kafka_controller_port,
            "VIGIE_CLICKHOUSE_PORT": self.clickhouse_port,
            "VIGIE_CLICKHOUSE_HTTP_PORT": self.clickhouse_http_port,
        }
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                msg = f"{name} and {seen[port]} are both {port}; give each service its own port"
                raise ValueError(msg)
            seen[port] = name
        return self

    @model_validator(mode="after")
    def _ahead_beyond_delays(self) -> Settings:
        longest = max(self.watermark_delay_s.values(), default=0)
        if self.fusion_ahead_s and self.fusion_ahead_s <= longest:
            msg = (
                f"VIGIE_FUSION_AHEAD_S={self.fusion_ahead_s} would hold back live events: it "
                f"must exceed the largest watermark delay ({longest} s), or be 0 to never wait"
            )
            raise ValueError(msg)
        return self

    @field_validator("retention_camera_days")
    @classmethod
    def _camera_retention_is_lawful(cls, days: int) -> int:
        if days > CAMERA_RETENTION_MAX_DAYS:
            msg = (
                f"{days} days is too long for camera-derived data: French video-protection law "
                "(Code de la sécurité intérieure, art. L252-5) has recordings destroyed within "
                f"one month at most, so Vigie keeps them {CAMERA_RETENTION_MAX_DAYS} days at most"
            )
            raise ValueError(msg)
        return days

    def clickhouse_role_password(self, role: Literal["writer", "analyst"]) -> str:
        """The writer's or analyst's password; production refuses the development default."""
        secret = (
            self.clickhouse_writer_password
            if role == "writer"
            else self.clickhouse_analyst_password
        )
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
        if self.profile == "production":
            msg = (
                f"the production profile needs a password for the ClickHouse {role} user: "
                f"set VIGIE_CLICKHOUSE_{role.upper()}_PASSWORD"
            )
            raise ConfigError(msg)
        return f"vigie-{role}-local-development"

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap list the clients use."""
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def clickhouse_address(self) -> str:
        """Host the ClickHouse clients connect to."""
        return self.clickhouse_host or self.host

    @property
    def city_dir(self) -> Path:
        """Folder holding the current city's sectors, cameras, stations and rules."""
        return self.cities_dir / self.city

    def pseudonym_key_bytes(self) -> bytes:
        """The HMAC key, refusing the built-in development key in production."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        if self.pseudonym_key_file is not None:
            try:
                return self.pseudonym_key_file.read_bytes().strip()
            except OSError as exc:
                msg = f"cannot read VIGIE_PSEUDONYM_KEY_FILE={self.pseudonym_key_file}: {exc}"
                raise ConfigError(msg) from exc
        if self.profile == "production":
            msg = (
                "the production profile needs a pseudonymisation key: set VIGIE_PSEUDONYM_KEY "
                "or VIGIE_PSEUDONYM_KEY_FILE (a file holding at least 32 random bytes)"
            )
            raise ConfigError(msg)
        return b"vigie-local-development-key-not-for-production"


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Read the configuration once; a wrong value becomes a :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        msg = f"invalid configuration: {problems}"
        raise ConfigError(msg) from exc


def _describe(err: Any) -> str:
    """One validation problem in the words of the environment variable to change."""
    text = str(err["msg"]).removeprefix("Value error, ")
    if not err["loc"]:
        return text
    name = "VIGIE_" + "_".join(str(p) for p in err["loc"]).upper()
    return f"{name}: {text}"
