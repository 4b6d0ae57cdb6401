"""Translation directions as data: a name, the source domain(s), the target domain and the
conditions fixed inside the direction's translator.

A model declares its directions (``model.directions()``); every consumer (translate,
export, evaluate, webcam, the runtime through ``model.json``) takes them from the model
or from ``model.json``, never from a constant. Names are free-form (``noto2fluent``,
``to_fluent``); CycleGAN's are ``a2b`` and ``b2a``. This module imports neither
TensorFlow nor Keras, so the runtime can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

DIRECTION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class DirectionError(ValueError):
    """A direction is unknown or malformed; the message lists the known ones."""


@dataclass(frozen=True)
class Direction:
    """One way a model translates.

    Args:
        name: the direction's name, also the stem of its exported files (``a2b``,
            ``to_fluent``): letters, digits, ``_``, ``-`` and ``.``, not starting with
            ``-`` or ``.``.
        source: the domain(s) whose images it takes (a multi-domain model may take
            every other domain).
        target: the domain it translates to.
        conditions: what is fixed inside its translator (a target label, a noise seed, a
            style code), as plain JSON values, recorded in ``model.json``.
    """

    name: str
    source: tuple[str, ...]
    target: str
    conditions: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not DIRECTION_NAME.match(self.name):
            raise DirectionError(
                f"Direction name {self.name!r} is not allowed: use letters, digits, '_', '-' and '.' "
                "(it names exported files)."
            )
        source = (self.source,) if isinstance(self.source, str) else tuple(self.source)
        if not source:
            raise DirectionError(f"Direction {self.name!r} has no source domain.")
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "conditions", dict(self.conditions))

    def __hash__(self):
        return hash((self.name, self.source, self.target))

    @property
    def primary_source(self) -> str:
        """The first source domain: where calibration and parity images come from."""
        return self.source[0]

    def as_dict(self) -> dict:
        """JSON-ready, as ``model.json`` records it."""
        return {"name": self.name, "source": list(self.source), "target": self.target,
                "conditions": dict(self.conditions)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Direction":
        try:
            return cls(str(raw["name"]), tuple(raw["source"]) if not isinstance(raw["source"], str)
                       else (raw["source"],), str(raw["target"]), dict(raw.get("conditions") or {}))
        except (KeyError, TypeError) as err:
            raise DirectionError(f"A direction needs name, source and target; got {dict(raw)!r}") from err


def directions_by_name(directions: Iterable[Direction]) -> dict[str, Direction]:
    """``{name: direction}``, refusing two directions of one name."""
    out: dict[str, Direction] = {}
    for direction in directions:
        if direction.name in out:
            raise DirectionError(f"Two directions are named {direction.name!r}.")
        out[direction.name] = direction
    return out


def two_way(a: str = "a", b: str = "b") -> dict[str, Direction]:
    """The two directions of a two-domain model: ``a2b`` (a -> b) and ``b2a``."""
    return directions_by_name([Direction(f"{a}2{b}", (a,), b), Direction(f"{b}2{a}", (b,), a)])


def pick(directions: Mapping[str, Direction], name: str) -> Direction:
    """``directions[name]``; an unknown name lists the known ones."""
    try:
        return directions[name]
    except KeyError:
        known = ", ".join(directions) or "none"
        raise DirectionError(f"This model has no direction {name!r}; its directions are: {known}.") from None


def select(directions: Mapping[str, Direction], names: Optional[str | Iterable[str]]) -> dict[str, Direction]:
    """The directions named by ``names`` (a comma-separated string, a list, ``"all"`` or
    None for all of them), in the model's order; unknown names list the known ones."""
    if names is None or names == "all":
        return dict(directions)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        pick(directions, name)
    return {name: d for name, d in directions.items() if name in wanted}


def legacy_direction(name: str) -> Optional[Direction]:
    """The direction of an export made before directions were recorded in ``model.json``:
    only the two-domain names ``a2b`` and ``b2a`` are known; anything else is None."""
    return two_way().get(name)
