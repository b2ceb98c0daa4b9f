"""B-cubed precision/recall/F1 over events, and category accuracy, against ground truth.

B-cubed (Bagga & Baldwin 1998; Amigó et al. 2009) scores each *event*: precision is the
share of the events in its predicted incident that truly belong with it, recall the share
of its true incident that the prediction put with it; both are averaged over events, F1 is
their harmonic mean. Unlike pairwise scores it does not let one huge incident dominate, and
unrelated background reports count as true singletons, so over-linking them is punished.

Category accuracy: for each true incident, the predicted incident holding most of its
events (ties: the earliest id) must carry the true category.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vigie.errors import VigieError

#: An evidence record as both sides name it: (source, source_ref).
Item = tuple[str, str]


class TruthError(VigieError):
    """The ground truth file is unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class Truth:
    """True incidents (members and category) and the background singletons."""

    members: dict[str, tuple[Item, ...]]
    categories: dict[str, str]
    noise: tuple[Item, ...]
    #: Hard cases each incident exercises (border, late, twin, merge).
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def labels(self) -> dict[Item, str]:
        """Each scored item with its true cluster (noise items are their own cluster)."""
        out = {item: inc for inc, items in self.members.items() for item in items}
        for source, ref in self.noise:
            out.setdefault((source, ref), f"noise:{source}:{ref}")
        return out


def load_truth(path: Path) -> Truth:
    """Read ``ground_truth.jsonl`` and, beside it, ``background.jsonl`` (noise records)."""
    members: dict[str, tuple[Item, ...]] = {}
    categories: dict[str, str] = {}
    noise: list[Item] = []
    tags: dict[str, tuple[str, ...]] = {}
    n = 0
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            n = number  # named in the error message below
            if not line.strip():
                continue
            row = json.loads(line)
            members[row["incident"]] = tuple((str(s), str(r)) for s, r in row["source_refs"])
            categories[row["incident"]] = str(row["category"])
            tags[row["incident"]] = tuple(str(t) for t in row.get("tags", ()))
        background = path.parent / "background.jsonl"
        if background.exists():
            for line in background.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    if row.get("role") == "noise":
                        noise.append((str(row["source"]), str(row["source_ref"])))
    except OSError as exc:
        msg = f"cannot read the ground truth {path}: {exc}"
        raise TruthError(msg) from exc
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: malformed ground truth line {n}: {exc}"
        raise TruthError(msg) from exc
    return Truth(members=members, categories=categories, noise=tuple(noise), tags=tags)


@dataclass(frozen=True, slots=True)
class Scores:
    """B-cubed over events plus category accuracy over true incidents."""

    precision: float
    recall: float
    f1: float
    category_accuracy: float
    items: int
    predicted_clusters: int
    #: tag -> (true incidents recovered exactly, true incidents); "all" for every one.
    exact_by_tag: dict[str, tuple[int, int]] = field(default_factory=dict)


def bcubed(truth: Mapping[Item, str], predicted: Mapping[Item, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over the items of ``truth``.

    Items the prediction lacks count as predicted singletons; predicted items absent from
    the truth (context, unknown records) are ignored.
    """
    if not truth:
        return 1.0, 1.0, 1.0
    pred = {item: predicted.get(item, f"missing:{item}") for item in truth}
    pred_sizes = Counter(pred.values())
    true_sizes = Counter(truth.values())
    both = Counter((truth[i], pred[i]) for i in truth)
    precision = sum(both[(truth[i], pred[i])] / pred_sizes[pred[i]] for i in truth) / len(truth)
    recall = sum(both[(truth[i], pred[i])] / true_sizes[truth[i]] for i in truth) / len(truth)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def category_accuracy(
    truth: Truth, predicted: Mapping[Item, str], predicted_category: Mapping[str, str]
) -> float:
    """Share of true incidents whose main predicted incident has the true category."""
    if not truth.members:
        return 1.0
    right = 0
    for inc, items in truth.members.items():
        votes = Counter(predicted[i] for i in items if i in predicted)
        if not votes:
            continue
        best = min(votes, key=lambda c: (-votes[c], c))
        right += predicted_category.get(best) == truth.categories[inc]
    return right / len(truth.members)


def exact_by_tag(truth: Truth, predicted: Mapping[Item, str]) -> dict[str, tuple[int, int]]:
    """How many true incidents come out exactly (all their events, nothing else), per tag."""
    members_of: dict[str, set[Item]] = {}
    for item, cluster in predicted.items():
        members_of.setdefault(cluster, set()).add(item)
    counts: dict[str, list[int]] = {}
    for inc, items in truth.members.items():
        clusters = {predicted.get(i) for i in items}
        (only,) = clusters if len(clusters) == 1 else (None,)
        exact = only is not None and members_of[only] == set(items)
        for tag in ("all", *truth.tags.get(inc, ())):
            pair = counts.setdefault(tag, [0, 0])
            pair[0] += exact
            pair[1] += 1
    return {tag: (pair[0], pair[1]) for tag, pair in sorted(counts.items())}


def score(
    truth: Truth, predicted: Mapping[Item, str], predicted_category: Mapping[str, str]
) -> Scores:
    """All the numbers ``vigie evaluate`` prints for one method."""
    labels = truth.labels()
    p, r, f = bcubed(labels, predicted)
    return Scores(
        precision=p,
        recall=r,
        f1=f,
        category_accuracy=category_accuracy(truth, predicted, predicted_category),
        items=len(labels),
        predicted_clusters=len({predicted[i] for i in labels if i in predicted}),
        exact_by_tag=exact_by_tag(truth, {i: c for i, c in predicted.items() if i in labels}),
    )
