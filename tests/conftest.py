import pytest
from django.core.management.commands import flush
from django.db import connections

from answerprint.audit import protection


@pytest.fixture(autouse=True, scope="session")
def _audit_table_flushable_between_tests():
    """Transactional tests end with a flush, which the audit table's triggers refuse (as they
    should). The test run alone lifts them for the flush and puts them straight back."""
    original = flush.Command.handle

    def handle(self, **options):
        connection = connections[options.get("database") or "default"]
        protection.remove(connection)
        try:
            return original(self, **options)
        finally:
            protection.install(connection)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")},
    }}


@pytest.fixture(autouse=True)
def _own_cache(settings, request):
    """A fresh cache per test, so rate-limit counts never carry from one test to the next (and
    nothing ever clears the Redis database the channel layer and broker share)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": request.node.nodeid}}


@pytest.fixture
def postgres_only():
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
