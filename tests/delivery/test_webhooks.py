import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from answerprint.accounts.models import Membership
from answerprint.audit.models import AuditEvent
from answerprint.delivery import webhooks
from answerprint.delivery.models import DeliveryState, WebhookDelivery
from answerprint.review import services as review
from tests.factories import ProductionFactory, ShotFactory, member
from tests.fixes.conftest import ready_version


class Receiver:
    """A local HTTP server that records each request and answers with the next planned status."""

    def __init__(self):
        self.requests, self.answers = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/answerprint"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def _membership(user, production):
    return Membership.objects.get(user=user, production=production)


def _endpoint(world, url, events):
    return webhooks.create_endpoint(actor=world.producer, production=world.production,
                                    membership=_membership(world.producer, world.production), url=url, events=events)


def test_a_comment_reaches_the_receiver_signed_and_the_receiver_can_verify_it(world, receiver):
    # given an endpoint for comments
    endpoint, secret = _endpoint(world, receiver.url, ["comment.created"])

    # when a supervisor comments, the outbox row is written with the comment; the sweep sends it
    review.create_comment(actor=world.supervisor, version=world.plate, body="Boom in frame", frame=3)
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event="comment.created").count() == 1
    assert webhooks.sweep() == 1

    # then the receiver got one POST whose signature checks out with the secret, naming the comment
    (headers, body), = receiver.requests
    assert webhooks.verify_signature(secret, headers[webhooks.SIGNATURE_HEADER], body)
    payload = json.loads(body)
    assert payload["type"] == "comment.created" and payload["production"] == world.production.code
    assert payload["data"]["actor"] == world.supervisor.printed_name and payload["data"]["target"]["type"] == "review.comment"
    assert headers["Answerprint-Delivery"] == payload["id"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.response_code) == (DeliveryState.DELIVERED, 1, 200)


def test_a_signature_is_refused_outside_the_replay_window_or_for_another_body_or_secret():
    # given a request signed now
    body, now = b'{"type":"ping"}', 1_800_000_000
    header = webhooks.sign("whsec_a", body, now)

    # then it verifies within the window, and not later, with another body or another secret
    assert webhooks.verify_signature("whsec_a", header, body, now=now + 299)
    assert not webhooks.verify_signature("whsec_a", header, body, now=now + 301)
    assert not webhooks.verify_signature("whsec_a", header, b'{"type":"pong"}', now=now)
    assert not webhooks.verify_signature("whsec_b", header, body, now=now)
    assert not webhooks.verify_signature("whsec_a", "garbage", body, now=now)


def test_a_failing_receiver_is_retried_with_growing_delays_until_it_answers(world, receiver):
    # given a receiver that fails twice, then accepts
    endpoint, _ = _endpoint(world, receiver.url, ["comment.created"])
    receiver.answers = [500, 503]
    review.create_comment(actor=world.supervisor, version=world.plate, body="Boom in frame", frame=3)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    # when the sweep sends it, it is kept with the answer and tried again only when due
    before = timezone.now()
    webhooks.sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == (DeliveryState.PENDING, 1, 500)
    assert timedelta(seconds=29) < delivery.next_attempt_at - before < timedelta(seconds=32)
    assert webhooks.sweep() == 0 and len(receiver.requests) == 1

    # when it is due again it is retried, with the delay doubled after the second failure
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    before = timezone.now()
    webhooks.sweep()
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (2, 503)
    assert timedelta(seconds=59) < delivery.next_attempt_at - before < timedelta(seconds=62)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhooks.sweep()

    # then the third try is delivered, the same delivery id every time
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == (DeliveryState.DELIVERED, 3, 200)
    assert {headers["Answerprint-Delivery"] for headers, _ in receiver.requests} == {str(delivery.pk)}


def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(world):
    # given an endpoint where nothing listens
    endpoint, _ = _endpoint(world, "http://127.0.0.1:9/nothing-here", ["comment.created"])
    review.create_comment(actor=world.supervisor, version=world.plate, body="Boom", frame=0)

    # when every attempt fails
    for _ in range(webhooks.MAX_ATTEMPTS):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        webhooks.sweep()

    # then it is failed, with the error of the last try, and not tried again
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert delivery.response_code is None and "refused" in delivery.error.lower()


def test_events_reach_only_the_endpoints_that_asked_for_them_in_that_production(world, tmp_path):
    # given one endpoint for decisions here, one for comments here, and one for everything elsewhere
    decisions, _ = _endpoint(world, "https://editorial.example/hook", ["decision.made"])
    comments, _ = _endpoint(world, "https://chat.example/hook", ["comment.created"])
    elsewhere = ProductionFactory(code="elsewhere")
    producer = member(elsewhere, "producer")
    other, _ = webhooks.create_endpoint(actor=producer, production=elsewhere,
                                        membership=_membership(producer, elsewhere), url="https://x.example/",
                                        events=[e for e, _ in webhooks.WebhookEvent.choices])

    # when a proposal is made and approved here
    proposal = world.propose(world.removal(), tmp_path)
    world.sign(proposal, world.producer)

    # then only the decision endpoint queued one event: the approval, signed by the producer
    assert list(WebhookDelivery.objects.values_list("endpoint", "event")) == [(decisions.pk, "decision.made")]
    payload = WebhookDelivery.objects.get().payload
    assert payload["data"]["action"] == "proposal.approved" and payload["data"]["actor"] == world.producer.printed_name
    assert not comments.deliveries.exists() and not other.deliveries.exists()


def test_producers_manage_endpoints_on_a_page_that_shows_the_secret_once_and_logs_a_test(client, world, receiver):
    client.force_login(world.producer)
    page = f"/p/{world.production.code}/webhooks/"

    # when a producer adds an endpoint
    created = client.post(page, {"url": receiver.url, "events": ["decision.made", "delivery.created"]})

    # then the secret is in that response, and never again
    endpoint = world.production.webhooks.get()
    assert created.status_code == 201 and endpoint.secret in created.content.decode()
    assert endpoint.secret not in client.get(page).content.decode()
    assert "secret" not in json.dumps(AuditEvent.objects.get(action="webhook.created").after)

    # when they press "send test", then the receiver gets a signed ping and the log shows its answer
    client.post(f"{page}{endpoint.pk}/test/")
    (headers, body), = receiver.requests
    assert webhooks.verify_signature(endpoint.secret, headers[webhooks.SIGNATURE_HEADER], body)
    log = client.get(page).content.decode()
    assert "ping" in log and "HTTP 200" in log

    # and a bad URL is refused with the reason, keeping what was typed
    refused = client.post(page, {"url": "ftp://nope", "events": ["decision.made"], "description": "Avid bin"})
    assert refused.status_code == 400 and "http:// or https://" in refused.content.decode()
    assert "Avid bin" in refused.content.decode()


def test_only_producers_of_the_production_reach_the_webhooks_page(client, world):
    page = f"/p/{world.production.code}/webhooks/"
    client.force_login(world.editor)
    assert client.get(page).status_code == 403
    outsider = member(ProductionFactory(code="elsewhere"), "producer")
    client.force_login(outsider)
    assert client.get(page).status_code == 404
