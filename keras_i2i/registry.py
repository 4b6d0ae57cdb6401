"""Name -> object registries (models, networks, losses, metrics, datasets)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of objects filled with a decorator.

    Args:
        name: what the entries are ("model", "generator" ...), used in error messages.

    Example:
        >>> MODELS = Registry("model")
        >>> @MODELS.register("cyclegan")
        ... class CycleGAN: ...
        >>> MODELS.get("cyclegan")
    """

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, T] = {}

    def register(self, key: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if key in self._entries and self._entries[key] is not obj:
                raise ValueError(f"{self.name} {key!r} is already registered")
            self._entries[key] = obj
            return obj

        return decorator

    def get(self, key: str) -> T:
        try:
            return self._entries[key]
        except KeyError:
            raise ValueError(
                f"Unknown {self.name} {key!r}. Known {self.name}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.names()})"
