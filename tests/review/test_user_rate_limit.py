"""One user's stored room operations are limited across all their connections, not per socket."""
import pytest
from channels.db import database_sync_to_async

from answerprint.review.models import Annotation
from tests.review.conftest import joined, run_async
from tests.review.test_consumers import draw


@pytest.mark.django_db(transaction=True)
@run_async
async def test_many_connections_of_one_user_share_one_budget(review, settings):
    # given generous limits per connection, five stored operations per minute per user, and a
    # supervisor with three connections to the room
    settings.REVIEW_WS_RATE_LIMITS = {"ops": (30, 10.0), "live": (120, 60.0)}
    settings.REVIEW_WS_USER_OPS = (5, 60.0)
    clients = [(await joined(review.path, review.cookie(review.supervisor)))[0] for _ in range(3)]

    # when each connection sends three drawings
    replies = [await draw(client, f"c{n}-{i}", frame=i) for n, client in enumerate(clients) for i in range(3)]

    # then five in all are stored, the rest refused with a time to wait
    assert [r["type"] for r in replies].count("ack") == 5
    refused = [r for r in replies if r["type"] == "error"]
    assert len(refused) == 4 and all(r["code"] == "rate_limited" and r["retry_after"] > 0 for r in refused)
    assert await database_sync_to_async(Annotation.objects.count)() == 5

    # while another user's connection still draws
    other, _ = await joined(review.path, review.cookie(review.producer))
    assert (await draw(other, "other-1"))["type"] == "ack"
    for client in [*clients, other]:
        await client.close()
