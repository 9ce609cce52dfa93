"""The legacy routes' tests use the fixtures of the apps they adapt."""

from tests.improvement.conftest import feed  # noqa: F401
from tests.marketplace.conftest import make_agent, public_agent  # noqa: F401
from tests.observability.conftest import default_prices, event_factory, ingest, now  # noqa: F401
from tests.observability.test_api import seeded  # noqa: F401
from tests.teammemory.conftest import make_build  # noqa: F401
