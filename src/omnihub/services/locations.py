"""Location use cases."""

from __future__ import annotations

from omnihub.domain.locations import Location
from omnihub.ports import UnitOfWork


def add_location(uow: UnitOfWork, location: Location) -> Location:
    with uow:
        uow.locations.add(location)
        uow.commit()
    return location


def list_locations(uow: UnitOfWork) -> list[Location]:
    with uow:
        return uow.locations.list()
