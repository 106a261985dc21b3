"""The WebhookSubscriptions contract: subscriptions stored as typed records, the active ones
listed, a deleted one kept inactive; on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from contract_world import AT, IntegrationWorld

from omnihub.ports import Subscription

pytestmark = pytest.mark.integration


class WebhookSubscriptionsContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    def test_the_active_subscriptions_are_listed_by_id_as_they_were_stored(
        self, world: IntegrationWorld
    ) -> None:
        erp = Subscription("01JSUB0000000000000000000B", "https://erp.example/hook",
                           ("order.*", "stock.changed"), "erp-secret-0123456789", AT)  # fmt: skip
        bi = Subscription("01JSUB0000000000000000000A", "http://bi.example/in", ("*",),
                          "bi-secret-0123456789ab", AT)  # fmt: skip
        world.stores.webhooks.add(erp)
        world.stores.webhooks.add(bi)
        assert world.stores.webhooks.active() == [bi, erp]
        assert erp.endpoint == "webhook:01JSUB0000000000000000000B"

    def test_a_deactivated_subscription_is_no_longer_listed(self, world: IntegrationWorld) -> None:
        sub = Subscription("01JSUB0000000000000000000A", "http://bi.example/in", ("*",),
                           "bi-secret-0123456789ab", AT)  # fmt: skip
        world.stores.webhooks.add(sub)
        assert world.stores.webhooks.deactivate(sub.id) is True
        assert world.stores.webhooks.active() == []
        assert world.stores.webhooks.deactivate("01JNOSUCHSUB00000000000000") is False


class TestWebhookSubscriptionsOnFakes(WebhookSubscriptionsContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestWebhookSubscriptionsOnSqlite(WebhookSubscriptionsContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestWebhookSubscriptionsOnPostgres(WebhookSubscriptionsContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
