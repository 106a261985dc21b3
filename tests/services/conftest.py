"""Service tests run the use cases on the in-memory fakes with a frozen clock."""

from __future__ import annotations

import pytest
from retailer import set_up_retailer

from fakes import FakeUnitOfWork, FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def uow(clock: FrozenClock) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    set_up_retailer(uow, clock)
    return uow
