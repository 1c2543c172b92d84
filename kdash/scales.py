"""Rating scales of clinical reference §1: ranges, severity bands, suicide items."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    code: str
    name: str
    n_items: int | None       # item scores stored in scale order; None = total only
    item_max: int | None
    total_max: int
    bands: tuple[tuple[int, int, str], ...]   # inclusive (low, high, label)
    suicide_item: int | None = None           # 1-based item number
    loinc: str | None = None
    depression: bool = False                  # an outcome scale (lower is better)

    def band(self, total: float) -> str | None:
        for low, high, label in self.bands:
            if low <= total <= high:
                return label
        return None


SCALES: dict[str, Scale] = {s.code: s for s in (
    Scale("MADRS", "MADRS", 10, 6, 60,
          ((0, 6, "normal"), (7, 19, "mild"), (20, 34, "moderate"), (35, 60, "severe")),
          suicide_item=10, depression=True),
    Scale("PHQ9", "PHQ-9", 9, 3, 27,
          ((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately severe"),
           (20, 27, "severe")),
          suicide_item=9, loinc="44261-6", depression=True),
    Scale("PHQ9_I9", "PHQ-9 item 9", None, None, 3, ((0, 0, "not at all"), (1, 3, "thoughts of self-harm"))),
    Scale("PHQ2", "PHQ-2", 2, 3, 6, ((0, 2, "negative"), (3, 6, "positive screen")), loinc="55758-7"),
    Scale("QIDS_SR16", "QIDS-SR16", 16, 3, 27,
          ((0, 5, "none"), (6, 10, "mild"), (11, 15, "moderate"), (16, 20, "severe"), (21, 27, "very severe")),
          suicide_item=12, depression=True),
    Scale("HAMD17", "HAM-D17", 17, 4, 52,
          ((0, 7, "none"), (8, 16, "mild"), (17, 23, "moderate"), (24, 52, "severe")),
          suicide_item=3, depression=True),
    Scale("BDI2", "BDI-II", 21, 3, 63,
          ((0, 13, "minimal"), (14, 19, "mild"), (20, 28, "moderate"), (29, 63, "severe")), depression=True),
    Scale("GAD7", "GAD-7", 7, 3, 21,
          ((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")), loinc="70274-6"),
    Scale("CADSS", "CADSS", 23, 4, 92, ((0, 4, "none"), (5, 92, "dissociation"))),
    Scale("MOAAS", "MOAA/S", None, None, 5, ((0, 3, "moderate or deeper sedation"), (4, 4, "mild sedation"),
                                            (5, 5, "alert"))),
    Scale("CSSRS", "C-SSRS screener", None, None, 6, ((0, 2, "lower risk"), (3, 6, "high risk"))),
)}

DEPRESSION_SCALES = tuple(code for code, s in SCALES.items() if s.depression)


def severe_from(code: str) -> int:
    """The lowest total of the scale's severe band (PHQ-9 20, MADRS 35, HAM-D17 24; clinical reference §1)."""
    return next(low for low, _, label in SCALES[code].bands if label == "severe")

# QIDS-SR16 scores 9 domains: the highest item within sleep (1-4), appetite/weight (6-9),
# psychomotor (15-16); every other item is its own domain (Rush 2003).
QIDS_DOMAINS: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 4), (5,), (6, 7, 8, 9), (10,), (11,), (12,), (13,), (14,), (15, 16))


def total_from_items(code: str, items: list[int]) -> int:
    """The scale's total from its item scores (QIDS-SR16 by domains)."""
    if code == "QIDS_SR16":
        return sum(max(items[i - 1] for i in domain) for domain in QIDS_DOMAINS)
    return sum(items)


def item_problem(code: str, items: list[int]) -> str | None:
    """Why these item scores are invalid for the scale, or None."""
    scale = SCALES[code]
    if scale.n_items is None:
        return f"{scale.name} is recorded as a total only"
    if len(items) != scale.n_items:
        return f"{scale.name} has {scale.n_items} items, got {len(items)}"
    for number, score in enumerate(items, start=1):
        if not 0 <= score <= scale.item_max:
            return f"{scale.name} item {number} = {score} is outside 0–{scale.item_max}"
    return None


def total_problem(code: str, total: float) -> str | None:
    scale = SCALES[code]
    if not 0 <= total <= scale.total_max:
        return f"{scale.name} total {total:g} is outside 0–{scale.total_max}"
    return None


# Item names for the item view (Montgomery & Åsberg 1979; Kroenke 2001), short enough for an axis label.
ITEM_NAMES = {
    "MADRS": ("Apparent sadness", "Reported sadness", "Inner tension", "Reduced sleep", "Reduced appetite",
              "Concentration difficulties", "Lassitude", "Inability to feel", "Pessimistic thoughts",
              "Suicidal thoughts"),
    "PHQ9": ("Little interest or pleasure", "Down, depressed, hopeless", "Sleep problems", "Tired, little energy",
             "Appetite", "Feeling bad about oneself", "Trouble concentrating", "Slowed or restless",
             "Thoughts of death or self-harm"),
}


def item_label(code: str, i: int) -> str:
    """'10 Suicidal thoughts' for a named item, else 'Item 10'."""
    names = ITEM_NAMES.get(code)
    return f"{i} {names[i - 1]}" if names and i <= len(names) else f"Item {i}"
