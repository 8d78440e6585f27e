"""Multi-location handles: the ``10320/LOC`` value and how the proxy page picks a redirect,
as CNRI's proxy (``net.handle.apps.servlet_proxy.handlers.Location``).

A ``10320/LOC`` value is XML::

    <locations chooseby="locatt,country,weighted">
      <location href="https://eu.example/x" weight="1" country="de" />
      <location href="https://us.example/x" weight="2" view="text" />
      <location href_template="https://m.example/?id={hdl}" weight="0" />
    </locations>

The ``choose_by`` (old name ``chooseby``) list of the first value says how to
narrow the locations, in order (default ``locatt,address,country,score,weighted``):

* ``locatt``: each ``locatt=NAME:VALUE`` (or ``NAME``) request parameter keeps
  the locations with that attribute (and value), when any has it;
* ``address``: locations whose ``addresses`` (CIDR list) hold the client's address;
* ``country``: locations whose ``country`` is the client's; CNRI looks the
  country up from the address with a GeoIP database, idnode (which has none)
  takes it from the ``country`` request parameter, as CNRI also accepts;
  without a match the list is kept;
* ``score``: the locations with the highest ``score``;
* ``weighted``: a random pick by ``weight`` (default 1; zero or less never,
  unless all are so), which ends the choice.

When one location is left it is taken.  ``href_template`` fills ``{hdl}``
(the handle, URL-encoded) and ``{hdl:path}`` (path-encoded).  A value that is
not well-formed XML, or declares a DTD (entity expansion), is ignored.  Only
http(s) and the other schemes :func:`resolver.http.pages.redirect_target`
allows are redirected to.  CNRI selects by no language; neither does idnode.
"""

from __future__ import annotations

import ipaddress
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import quote

from protocol.values import HandleValue

LOC_TYPE = "10320/LOC"
DEFAULT_CHOOSE_BY = ("locatt", "address", "country", "score", "weighted")

Location = dict[str, str]


def parse_locations(values: Iterable[HandleValue]) -> tuple[list[str], list[Location]]:
    """(choose-by list, locations) of a record's ``10320/LOC`` values, in index order."""
    choose_by: list[str] | None = None
    found: list[Location] = []
    for value in sorted(values, key=lambda v: v.index):
        if value.type.upper() != LOC_TYPE:
            continue
        root = _xml(value.data)
        if root is None or root.tag != "locations":
            continue
        if choose_by is None:
            spec = root.get("choose_by", root.get("chooseby"))
            if spec is not None:
                choose_by = [part.strip().lower() for part in spec.split(",") if part.strip()]
        found += [dict(loc.attrib) for loc in root.iter("location")]
    return (choose_by if choose_by is not None else list(DEFAULT_CHOOSE_BY)), found


def _xml(data: bytes) -> ET.Element | None:
    if b"<!" in data:  # no DTDs, no entities
        return None
    try:
        return ET.fromstring(data)  # noqa: S314 - no DTD (checked above), so no entity expansion
    except ET.ParseError:
        return None


def choose_location(
    values: Iterable[HandleValue],
    handle: str,
    *,
    locatt: Sequence[str] = (),
    country: str | None = None,
    client: str | None = None,
    rng: Callable[[], float] = random.random,
) -> str | None:
    """The href the proxy page redirects to, or None when the record has no location."""
    choose_by, locations = parse_locations(values)
    locations = [loc for loc in (_with_href(loc, handle) for loc in locations) if loc]
    for rule in choose_by:
        if len(locations) <= 1:
            break
        if rule == "locatt":
            for wanted in locatt:
                locations = _keep_if_any(locations, _has_attribute(wanted))
        elif rule == "address" and client:
            locations = _keep_if_any(locations, lambda loc: _in_ranges(loc, client))
        elif rule == "country" and country:
            locations = _keep_if_any(
                locations, lambda loc: loc.get("country", "").strip().lower() == country.lower()
            )
        elif rule == "score":
            best = max(_number(loc, "score", 0.0) for loc in locations)
            locations = [loc for loc in locations if _number(loc, "score", 0.0) == best]
        elif rule == "weighted":
            break
    if not locations:
        return None
    return _weighted(locations, rng)["href"]


def _with_href(loc: Location, handle: str) -> Location | None:
    if "href" not in loc and "href_template" in loc:
        filled = (loc["href_template"].replace("{hdl}", quote(handle, safe=""))
                  .replace("{hdl:path}", quote(handle, safe="/")))
        loc = {**loc, "href": filled}
    return loc if loc.get("href") else None


def _keep_if_any(locations: list[Location], test: Callable[[Location], bool]) -> list[Location]:
    kept = [loc for loc in locations if test(loc)]
    return kept or locations


def _has_attribute(wanted: str) -> Callable[[Location], bool]:
    """``filterBasedOnLinkParam``: ``NAME:VALUE`` or just ``NAME``."""
    name, colon, value = wanted.partition(":")

    def test(loc: Location) -> bool:
        present = loc.get(name.strip())
        return present is not None and (not colon or present == value)

    return test


def _in_ranges(loc: Location, client: str) -> bool:
    try:
        address = ipaddress.ip_address(client)
        return any(address in ipaddress.ip_network(part.strip(), strict=False)
                   for part in loc.get("addresses", "").split(",") if part.strip())
    except ValueError:
        return False


def _number(loc: Location, name: str, default: float) -> float:
    try:
        return float(loc.get(name, default))
    except ValueError:
        return default


def _weighted(locations: list[Location], rng: Callable[[], float]) -> Location:
    """``sendWeightedRedirect``: pick by non-negative weight (uniformly if all are zero)."""
    weights = [max(0.0, _number(loc, "weight", 1.0)) for loc in locations]
    total = sum(weights)
    if total <= 0:
        return locations[min(len(locations) - 1, int(rng() * len(locations)))]
    point, running = rng() * total, 0.0
    for loc, weight in zip(locations, weights, strict=True):
        running += weight
        if running >= point and weight > 0:
            return loc
    return locations[-1]
