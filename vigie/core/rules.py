"""Fusion rules: which events may link, how incidents are bounded, named and scored.

All of fusion's judgement lives in one YAML file (``rules/fusion.yaml``) so an operator can
read and change it without touching code: the kinds the feeds produce (evidence or context,
default position uncertainty, how far a single report can be trusted), which kinds may link
and within what distance and time, the anti-chaining bounds of an incident, the
priority-ordered category conditions, and the explanations context can bring (a permit
explains roadworks noise). The file is validated with pydantic when loaded and every problem
is reported as a :class:`RulesError` naming the file and the key.

Loaded rules are frozen and precomputed into lookup tables (a pair of kinds -> the link
rules that apply), so the hot path does dictionary look-ups only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigie.config import REPO_ROOT
from vigie.core.events import Role
from vigie.errors import VigieError

#: The rules shipped with Vigie; a city may override them with ``<city_dir>/rules.yaml``.
DEFAULT_RULES_PATH = REPO_ROOT / "rules" / "fusion.yaml"


class RulesError(VigieError):
    """The rules file is unreadable or invalid; the message names the file and key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindSpec(_Model):
    """One ``kind`` string the normalise step may emit."""

    role: Role
    uncertainty_m: float = Field(50.0, ge=0)
    reliability: float = Field(0.5, ge=0, le=1)
    #: Raw codes that normalise to this kind, as ``source:CODE`` (``source:CODE/DETAIL``
    #: for a finer split, e.g. ``transport:ALERT/ACCIDENT``).
    codes: list[str] = []
    description: str = ""


class LinkSpec(_Model):
    """Kinds that may describe the same situation, with the pair's bounds."""

    name: str
    #: Any two kinds of this group link (a kind with itself too) ...
    kinds: list[str] = []
    #: ... or only a kind of the first list with a kind of the second.
    between: tuple[list[str], list[str]] | None = None
    max_distance_m: float = Field(gt=0)
    max_gap_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> LinkSpec:
        if bool(self.kinds) == (self.between is not None):
            msg = "give exactly one of 'kinds' (a group) or 'between' (two lists)"
            raise ValueError(msg)
        return self


class CategorySpec(_Model):
    """A category and the condition over the incident's kinds and sources that selects it."""

    name: str
    any_kinds: list[str] = []
    all_kinds: list[str] = []
    min_sources: int = Field(1, ge=1)
    severity: int = Field(ge=1, le=5)


class ExplanationSpec(_Model):
    """Context that explains an incident or changes its priority."""

    name: str
    #: Which context kinds bring this explanation (permit, traffic_order, weather_alert ...).
    context_kinds: list[str]
    #: The explanation applies when the incident is of one of these categories ...
    categories: list[str] = []
    #: ... or when every evidence kind of the incident is in this list.
    only_kinds: list[str] = []
    severity_delta: int = Field(ge=-4, le=4)
    #: When set, the explanation also renames the incident (noise + works = roadworks_noise).
    category: str | None = None
    text: str


class BoundsSpec(_Model):
    """Anti-chaining bounds and lifecycle timing."""

    max_extent_m: float = Field(gt=0)
    max_span_s: float = Field(gt=0)
    inactivity_timeout_s: float = Field(gt=0)
    allowed_lateness_s: float = Field(ge=0)
    #: Largest position uncertainty linking trusts (default: the largest kind's); a record
    #: claiming more is capped, which keeps a link's reach, and so the cell halo, bounded.
    max_uncertainty_m: float | None = Field(None, gt=0)


class ContextSpec(_Model):
    """How far and how long context applies around an incident."""

    weather_station_radius_m: float = Field(20000, gt=0)
    weather_observation_window_s: float = Field(3600, gt=0)
    transport_radius_m: float = Field(300, gt=0)
    transport_window_s: float = Field(600, gt=0)
    line_attribute: str = "line"


class ConfidenceSpec(_Model):
    """Noisy-or over independent agencies: more agencies agreeing, higher confidence."""

    per_extra_report: float = Field(0.05, ge=0, le=1)


class RulesFile(_Model):
    """The whole rules file."""

    version: Literal[1]
    bounds: BoundsSpec
    context: ContextSpec = ContextSpec()
    confidence: ConfidenceSpec = ConfidenceSpec()
    default_category: str = "other"
    default_severity: int = Field(2, ge=1, le=5)
    #: Bounds for two events of the same kind the rules do not declare (a new feed code):
    #: declared kinds link only through the link rules.
    same_kind_distance_m: float = Field(150, gt=0)
    same_kind_gap_s: float = Field(900, gt=0)
    kinds: dict[str, KindSpec]
    links: list[LinkSpec]
    categories: list[CategorySpec]
    explanations: list[ExplanationSpec] = []

    @model_validator(mode="after")
    def _known_kinds(self) -> RulesFile:
        known = set(self.kinds)
        problems: list[str] = []

        def check(where: str, names: Iterable[str], role: Role | None = None) -> None:
            for name in names:
                if name not in known:
                    problems.append(f"{where}: unknown kind {name!r} (declare it under 'kinds')")
                elif role is not None and self.kinds[name].role != role:
                    problems.append(f"{where}: kind {name!r} is {self.kinds[name].role}")

        for i, link in enumerate(self.links):
            check(f"links[{i}] ({link.name}).kinds", link.kinds, Role.EVIDENCE)
            if link.between is not None:
                check(f"links[{i}] ({link.name}).between", link.between[0], Role.EVIDENCE)
                check(f"links[{i}] ({link.name}).between", link.between[1], Role.EVIDENCE)
            if link.max_gap_s > self.bounds.max_span_s:
                problems.append(f"links[{i}] ({link.name}).max_gap_s exceeds bounds.max_span_s")
            if link.max_distance_m > self.bounds.max_extent_m:
                problems.append(
                    f"links[{i}] ({link.name}).max_distance_m exceeds bounds.max_extent_m"
                )
        for i, cat in enumerate(self.categories):
            check(f"categories[{i}] ({cat.name}).any_kinds", cat.any_kinds)
            check(f"categories[{i}] ({cat.name}).all_kinds", cat.all_kinds)
        for i, exp in enumerate(self.explanations):
            check(f"explanations[{i}] ({exp.name}).context_kinds", exp.context_kinds, Role.CONTEXT)
            check(f"explanations[{i}] ({exp.name}).only_kinds", exp.only_kinds)
        owners: dict[str, str] = {}
        for name, spec in self.kinds.items():
            for code in spec.codes:
                if ":" not in code:
                    problems.append(f"kinds.{name}.codes: {code!r} is not 'source:CODE'")
                elif code in owners:
                    problems.append(f"kinds.{name}.codes: {code!r} already maps to {owners[code]}")
                owners[code] = name
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True, slots=True)
class PairRule:
    """Bounds for one ordered pair of kinds, from a named link rule."""

    name: str
    max_distance_m: float
    max_gap_ms: int


@dataclass(frozen=True)
class Rules:
    """Validated rules with the look-up tables the hot path uses."""

    spec: RulesFile
    source: str
    pairs: dict[tuple[str, str], tuple[PairRule, ...]]
    max_extent_m: float
    max_span_ms: int
    inactivity_timeout_ms: int
    allowed_lateness_ms: int
    #: Largest time gap any pair may have: how far back a new event must look.
    max_gap_ms: int
    #: Largest link distance plus twice the largest uncertainty: the spatial reach of a link.
    max_reach_m: float
    #: Cap on any event's uncertainty in linking (see ``BoundsSpec.max_uncertainty_m``).
    max_uncertainty_m: float
    #: ``source:CODE`` -> kind, for the normalise step.
    codes: dict[str, str]

    @classmethod
    def from_dict(cls, data: Any, source: str = "<rules>") -> Rules:
        """Validate a parsed rules document."""
        try:
            spec = RulesFile.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                for err in exc.errors()
            )
            msg = f"{source}: invalid fusion rules: {problems}"
            raise RulesError(msg) from exc
        pairs: dict[tuple[str, str], list[PairRule]] = {}
        for link in spec.links:
            rule = PairRule(link.name, link.max_distance_m, round(link.max_gap_s * 1000))
            if link.between is not None:
                combos = [(a, b) for a in link.between[0] for b in link.between[1]]
            else:
                combos = [(a, b) for a in link.kinds for b in link.kinds]
            for a, b in combos:
                for key in ((a, b), (b, a)):
                    if rule not in pairs.setdefault(key, []):
                        pairs[key].append(rule)
        max_gap = max(
            [round(spec.same_kind_gap_s * 1000)]
            + [r.max_gap_ms for rules in pairs.values() for r in rules]
        )
        max_dist = max(
            [spec.same_kind_distance_m] + [r.max_distance_m for rs in pairs.values() for r in rs]
        )
        max_unc = spec.bounds.max_uncertainty_m or max(
            [k.uncertainty_m for k in spec.kinds.values()] + [0.0]
        )
        return cls(
            spec=spec,
            source=source,
            pairs={k: tuple(v) for k, v in pairs.items()},
            max_extent_m=spec.bounds.max_extent_m,
            max_span_ms=round(spec.bounds.max_span_s * 1000),
            inactivity_timeout_ms=round(spec.bounds.inactivity_timeout_s * 1000),
            allowed_lateness_ms=round(spec.bounds.allowed_lateness_s * 1000),
            max_gap_ms=max_gap,
            max_reach_m=max_dist + 2 * max_unc,
            max_uncertainty_m=max_unc,
            codes={c: name for name, k in spec.kinds.items() for c in k.codes},
        )

    def kind_for(self, source: str, code: str, detail: str | None = None) -> str | None:
        """The kind a raw record normalises to (``None``: not a code the rules know).

        ``detail`` refines the code when the rules split it (a transport alert's cause).
        """
        if detail is not None:
            found = self.codes.get(f"{source}:{code}/{detail}")
            if found is not None:
                return found
        return self.codes.get(f"{source}:{code}")

    def pair_rules(self, kind_a: str, kind_b: str) -> tuple[PairRule, ...]:
        """Link rules for two kinds; two undeclared same kinds fall back to same-kind bounds."""
        found = self.pairs.get((kind_a, kind_b))
        if found:
            return found
        if kind_a == kind_b and kind_a not in self.spec.kinds:
            return (
                PairRule(
                    "same_kind",
                    self.spec.same_kind_distance_m,
                    round(self.spec.same_kind_gap_s * 1000),
                ),
            )
        return ()

    def role_of(self, kind: str) -> Role | None:
        """Role the rules give a kind, or None when the kind is not declared."""
        spec = self.spec.kinds.get(kind)
        return None if spec is None else spec.role

    def uncertainty_of(self, kind: str) -> float:
        """Default position uncertainty of a kind (0 when the kind is unknown)."""
        spec = self.spec.kinds.get(kind)
        return 0.0 if spec is None else spec.uncertainty_m

    def reliability_of(self, kind: str) -> float:
        """How far one report of this kind can be trusted alone."""
        spec = self.spec.kinds.get(kind)
        return 0.3 if spec is None else spec.reliability


def load_rules(path: Path | None = None) -> Rules:
    """Read and validate a rules file (default: the rules shipped with Vigie)."""
    path = path or DEFAULT_RULES_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"{path}: cannot read the fusion rules: {exc}"
        raise RulesError(msg) from exc
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise RulesError(msg) from exc
    return Rules.from_dict(data, source=str(path))


def rules_for_city(city_dir: Path) -> Rules:
    """The city's own ``rules.yaml`` when it has one, else the shipped rules."""
    own = city_dir / "rules.yaml"
    return load_rules(own if own.exists() else None)
