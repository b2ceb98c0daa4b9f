"""Spatial keying: parallel fusion by grid cell, each incident published exactly once.

A Flink job keyed by cell sends every evidence event to its *home* cell and replicates it
to every cell within a *halo* around it; each cell runs its own
:class:`~vigie.core.fusion.engine.FusionEngine` over what it receives, and publishes only
the incidents whose anchor (first event, by event time then id) has its home in that cell.
An incident that straddles a border is computed by every cell that sees it, but only the
anchor's cell emits it, so it comes out once and whole at any parallelism.

The halo must cover everything the owner needs to reproduce the global decision: the
incident's own extent plus two link reaches (the events its members linked to, and theirs).
Context is replicated by reach: weather and area context (permits, alerts) to every cell,
vehicles to the cells within the halo plus the transport radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vigie.core.events import NormalizedEvent, Role
from vigie.core.fusion.context import ContextClass, classify
from vigie.core.rules import Rules


@dataclass(frozen=True, slots=True)
class CellGrid:
    """A square grid over projected metres, with the halo each cell also receives."""

    cell_size_m: float
    halo_m: float
    #: The city's extent in metres (min_x, min_y, max_x, max_y): where broadcast goes.
    bounds_m: tuple[float, float, float, float]
    origin_x: float = 0.0
    origin_y: float = 0.0
    transport_radius_m: float = 300.0

    @classmethod
    def for_rules(
        cls,
        rules: Rules,
        bounds_m: tuple[float, float, float, float],
        cell_size_m: float = 5000.0,
        origin: tuple[float, float] = (0.0, 0.0),
    ) -> CellGrid:
        """The grid with the halo the rules need (extent + two link reaches)."""
        if cell_size_m <= 0:
            msg = f"cell_size_m must be positive, got {cell_size_m}"
            raise ValueError(msg)
        return cls(
            cell_size_m=cell_size_m,
            halo_m=rules.max_extent_m + 2 * rules.max_reach_m,
            bounds_m=bounds_m,
            origin_x=origin[0],
            origin_y=origin[1],
            transport_radius_m=rules.spec.context.transport_radius_m,
        )

    def _index(self, x: float, y: float) -> tuple[int, int]:
        return (
            math.floor((x - self.origin_x) / self.cell_size_m),
            math.floor((y - self.origin_y) / self.cell_size_m),
        )

    def home_cell(self, event: NormalizedEvent) -> str:
        """The one cell an event belongs to."""
        i, j = self._index(event.x, event.y)
        return f"{i}:{j}"

    def _cells_around(self, x: float, y: float, reach: float) -> list[str]:
        i0, j0 = self._index(x - reach, y - reach)
        i1, j1 = self._index(x + reach, y + reach)
        return [f"{i}:{j}" for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]

    def all_cells(self) -> list[str]:
        """Every cell of the city's extent (a broadcast goes to these)."""
        min_x, min_y, max_x, max_y = self.bounds_m
        i0, j0 = self._index(min_x - self.halo_m, min_y - self.halo_m)
        i1, j1 = self._index(max_x + self.halo_m, max_y + self.halo_m)
        return [f"{i}:{j}" for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]

    def cell_keys(self, event: NormalizedEvent, rules: Rules | None = None) -> list[str]:
        """Every cell that must see this event; the home cell comes first."""
        role = (rules.role_of(event.kind) if rules is not None else None) or event.role
        home = self.home_cell(event)
        if role == Role.EVIDENCE:
            cells = self._cells_around(event.x, event.y, self.halo_m)
        elif classify(event) == ContextClass.VEHICLE:
            cells = self._cells_around(event.x, event.y, self.halo_m + self.transport_radius_m)
        else:
            cells = self.all_cells()
        return [home, *sorted(c for c in set(cells) if c != home)]

    def owns(self, cell: str, anchor: NormalizedEvent) -> bool:
        """True when ``cell`` publishes the incident whose first event is ``anchor``."""
        return self.home_cell(anchor) == cell
