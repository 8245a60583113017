import pytest

from tests.processes import RedisServer


@pytest.fixture
def own_redis(tmp_path):
    """Start a Redis of this test's own: own_redis(persistent=...). Stopped after the test,
    whatever happened in it."""
    servers = []

    def start(*, persistent):
        server = RedisServer(tmp_path / f"redis-{len(servers)}", persistent=persistent)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
