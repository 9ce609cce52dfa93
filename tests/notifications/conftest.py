from __future__ import annotations

import pytest

from tests.notifications.receiver import Receiver


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r
