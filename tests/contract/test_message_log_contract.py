"""The MessageLog contract: a channel's message id accepted once (replay protection), forgotten
once older than the window; on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, IntegrationWorld

from omnihub.ports import MessageLog

pytestmark = pytest.mark.integration


class MessageLogContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    @pytest.fixture
    def log(self, world: IntegrationWorld) -> MessageLog:
        return world.stores.messages

    def test_a_message_id_is_new_once_per_channel(self, log: MessageLog) -> None:
        assert log.seen("tmall", "m-1") is False
        assert log.remember("tmall", "m-1", AT) is True
        assert log.seen("tmall", "m-1") is True
        assert log.remember("tmall", "m-1", AT) is False  # a concurrent delivery of the same
        assert log.seen("jd", "m-1") is False
        assert log.remember("jd", "m-1", AT) is True

    def test_a_long_message_id_is_kept_to_its_first_128_characters(self, log: MessageLog) -> None:
        long_id = "m" * 200
        assert log.remember("shopify", long_id, AT) is True
        assert log.remember("shopify", long_id[:128] + "other", AT) is False
        assert log.seen("shopify", long_id[:128]) is True

    def test_ids_older_than_the_window_are_forgotten(self, log: MessageLog) -> None:
        log.remember("tmall", "old-1", AT - timedelta(days=8))
        log.remember("jd", "old-2", AT - timedelta(days=8))
        log.remember("tmall", "new", AT)
        assert log.forget(AT - timedelta(days=7)) == 2
        assert log.seen("tmall", "old-1") is False
        assert log.seen("tmall", "new") is True
        assert log.forget(AT - timedelta(days=7)) == 0


class TestMessageLogOnFakes(MessageLogContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestMessageLogOnSqlite(MessageLogContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestMessageLogOnPostgres(MessageLogContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
