"""The one registry style every kind of entry uses (after spandrel's
`ArchRegistry`): entries named explicitly, kept in an explicit order, and a
second entry under a name already taken is an error, never a silent
overwrite.

A name is what a user types (`--format`, `--no-fix`, `--arch`) or what a
manifest records, so it is declared by the entry, never derived from a file
name: renaming a module renames nothing a user or a bundle can see.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


class DuplicateEntry(ValueError):
    """Two entries of one registry under one name."""


class Registry(Generic[T]):
    """Named entries in order. Iterating gives the entries, in order;
    `registry[name]`, `name in registry` and `names()` go by name."""

    def __init__(self, kind: str, entries: Iterable[T] = (), key: Callable[[T], str] = lambda entry: entry.name):
        """`kind`: what an entry is, for errors ("target"). `key`: an entry's name."""
        self.kind = kind
        self._key = key
        self._entries: dict[str, T] = {}
        self.add(*entries)

    def add(self, *entries: T, before: str | None = None) -> None:
        """Register `entries` in the order given, at the end or `before` the
        entry of that name (an order that matters is stated, not implied by
        where a line happens to sit)."""
        seen = set(self._entries)
        for entry in entries:
            name = self._key(entry)
            if name in seen:
                raise DuplicateEntry(f"two {self.kind} entries are named {name!r}")
            seen.add(name)
        if before is not None and before not in self._entries:
            raise KeyError(f"no {self.kind} named {before!r} to register before")
        items = list(self._entries.items())
        at = len(items) if before is None else [name for name, _ in items].index(before)
        items[at:at] = [(self._key(entry), entry) for entry in entries]
        self._entries = dict(items)

    def put(self, name: str, entry: T) -> None:
        """Register an entry that does not carry its name (an op's handler,
        which may serve several ops), under `name`; a duplicate is an error."""
        if name in self._entries:
            raise DuplicateEntry(f"two {self.kind} entries are named {name!r}")
        self._entries[name] = entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no {self.kind} named {name!r} (known: {', '.join(self._entries)})") from None

    def get(self, name: str, default: T | None = None) -> T | None:
        return self._entries.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def where(self, predicate: Callable[[T], bool]) -> list[T]:
        """The entries `predicate` holds for, in order."""
        return [entry for entry in self if predicate(entry)]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
