"""The PullCursors contract: one holder of a pull at a time (a lease that runs out), a cursor
that only moves forward for its holder, the counts of every turn; on the fakes, SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, IntegrationWorld

from omnihub.ports import PullCursor, PullCursors

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=1)
START = AT - timedelta(hours=24)
LATER = AT + timedelta(minutes=5)


class PullCursorsContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    @pytest.fixture
    def cursors(self, world: IntegrationWorld) -> PullCursors:
        return world.stores.cursors

    def test_a_first_pull_starts_where_it_is_told_and_holds_the_lease(
        self, cursors: PullCursors
    ) -> None:
        assert cursors.get("jd") is None
        assert cursors.lease("jd", "worker-a", START, AT, LEASE) == START
        assert cursors.get("jd") == PullCursor(
            "jd", START, "worker-a", AT + LEASE, 0, 0, None, None
        )
        assert cursors.lease("jd", "worker-b", AT, AT, LEASE) is None  # held by a
        assert cursors.lease("jd", "worker-a", AT, AT + LEASE / 2, LEASE) == START  # renewed
        assert cursors.lease("jd", "worker-b", AT, AT + LEASE, LEASE) is None  # still a's
        # a worker that died lets its lease run out
        assert cursors.lease("jd", "worker-b", AT, AT + 2 * LEASE, LEASE) == START

    def test_a_turn_moves_the_cursor_forward_adds_the_counts_and_gives_the_lease_back(
        self, cursors: PullCursors
    ) -> None:
        cursors.lease("pdd", "worker-a", START, AT, LEASE)
        cursors.advance("pdd", "worker-a", to=AT, pulled=7, rejected=1, error=None, now=AT)
        assert cursors.get("pdd") == PullCursor("pdd", AT, None, None, 7, 1, None, AT)
        assert cursors.lease("pdd", "worker-b", START, AT, LEASE) == AT  # free again
        cursors.advance(
            "pdd", "worker-b", to=None, pulled=0, rejected=2, error="HTTP 500", now=LATER
        )
        assert cursors.get("pdd") == PullCursor("pdd", AT, None, None, 7, 3, "HTTP 500", LATER)

    def test_the_cursor_never_moves_back_nor_for_one_that_lost_its_lease(
        self, cursors: PullCursors
    ) -> None:
        cursors.lease("jd", "worker-a", START, AT, LEASE)
        cursors.advance("jd", "worker-a", to=AT, pulled=1, rejected=0, error=None, now=AT)
        cursors.lease("jd", "worker-a", START, AT, LEASE)
        cursors.advance("jd", "worker-a", to=START, pulled=1, rejected=0, error=None, now=AT)
        cursor = cursors.get("jd")
        assert cursor is not None
        assert (cursor.cursor_at, cursor.pulled) == (AT, 2)
        # a slow worker whose lease ran out and was taken moves nothing
        cursors.lease("jd", "worker-a", START, AT, LEASE)
        cursors.lease("jd", "worker-b", START, AT + 2 * LEASE, LEASE)
        cursors.advance("jd", "worker-a", to=LATER, pulled=5, rejected=0, error=None, now=LATER)
        cursor = cursors.get("jd")
        assert cursor is not None
        assert (cursor.cursor_at, cursor.pulled, cursor.lease_owner) == (AT, 2, "worker-b")


class TestPullCursorsOnFakes(PullCursorsContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestPullCursorsOnSqlite(PullCursorsContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestPullCursorsOnPostgres(PullCursorsContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
