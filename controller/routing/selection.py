"""Finding what to steer inside a routing object: the entry, then blue's and green's place in it.

Gateway API rules and Istio HTTP routes are chosen the same way (by name when configured, else the
single entry that references both Services), and those routes and SMI backends all need blue and green
exactly once each before a weight may be written. The mechanism lives here once; each router brings
its own reference matching and the words its object uses, so errors keep naming the real fields.
Pure functions on decoded JSON: API access (and so each router's RBAC footprint) stays in the router.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.routing.base import RouterError
from controller.routing.kube_common import Json, ObjectRef


@dataclass(frozen=True)
class Entries:
    """How a router's object names the list it steers one entry of, e.g. ``spec.rules`` of rules."""

    field: str  # "spec.rules"
    entry: str  # "rule"
    reaching: str  # what an entry does to a Service: "reference", "route to"
    through: str = ""  # where an entry names its Services, when worth saying: "backendRefs"


def choose(
    owner: ObjectRef,
    entries: Entries,
    items: list[Json],
    name: str | None,
    services: tuple[str, str],
    indexes: Callable[[Json, str], list[int]],
) -> Json:
    """The entry named ``name``, else the one entry whose ``indexes`` find both Services."""
    if name is not None:
        for item in items:
            if item.get("name") == name:
                return item
        raise RouterError(f"{owner}: {entries.field} has no {entries.entry} named {name!r}")
    blue, green = services
    matching = [item for item in items if indexes(item, blue) and indexes(item, green)]
    if len(matching) != 1:
        found = f"no {entries.entry}" if not matching else f"{len(matching)} {entries.entry}s"
        through = f" in {entries.through}" if entries.through else ""
        raise RouterError(
            f"{owner}: {found} in {entries.field} {entries.reaching} both Services {blue!r} "
            f"and {green!r}{through}; name the {entries.entry} to steer"
        )
    return matching[0]


def blue_green(
    services: tuple[str, str],
    indexes: Callable[[str], list[int]],
    *,
    where: str,
    missing: str,
    repeated: str,
    hint: str = "",
) -> tuple[int, int]:
    """Indexes of blue's and green's reference; exactly one each, or the entry is not ours.

    The error reads ``{where} {missing|repeated} Service 'name'{hint}``.
    """
    found = []
    for service in services:
        at = indexes(service)
        if len(at) != 1:
            raise RouterError(f"{where} {missing if not at else repeated} Service {service!r}{hint}")
        found.append(at[0])
    return found[0], found[1]


def label(entry: Json) -> str:
    """How errors name an entry: its quoted name, or ``(unnamed)``."""
    return repr(entry["name"]) if entry.get("name") else "(unnamed)"
