import json

import pytest
from django.db import transaction
from django.urls import reverse

from answerprint.audit.models import AuditEvent, Checkpoint
from answerprint.audit.services import record_event, seal_pending
from tests.factories import PASSWORD, ProductionFactory, member


@pytest.fixture
def production(db):
    production = ProductionFactory(code="show")
    with transaction.atomic():
        record_event("proposal.signed", production=production, reason="matches the plate", after={
            "printed_name": "Ada Lovelace", "signed_at": "2026-03-04T05:06:07+00:00", "meaning": "approval",
            "record_hash": "cd" * 32})
        record_event("shot.created", production=production)
        record_event("shot.created", production=ProductionFactory())
    return production


def signed_in(client, user):
    """Signs in (which itself adds an auth.logged_in event)."""
    client.login(username=user.username, password=PASSWORD)
    return client


def body(response):
    return b"".join(response)


def test_compliance_sees_the_production_events_with_signatures(client, production):
    # given a compliance officer of the production
    officer = member(production, "compliance")

    # when they open the audit page
    response = signed_in(client, officer).get(reverse("audit-page", args=["show"]))

    # then they see this production's events, the printed signature and the export links
    assert response.status_code == 200
    page = response.content.decode()
    assert "Signed by Ada Lovelace at 2026-03-04 05:06:07 UTC — meaning: approval" in page
    assert "Reason: matches the plate" in page
    assert page.count('id="event-') == 2
    assert reverse("audit-export", args=["show", "csv"]) in page


def test_the_audit_page_links_the_consent_registry(client, production):
    # given a compliance officer of the production
    officer = member(production, "compliance")

    # when they open the audit page
    page = signed_in(client, officer).get(reverse("audit-page", args=["show"])).content.decode()

    # then the sidebar links the production's consent registry instead of saying it is missing
    assert f'href="{reverse("fix-consents", args=["show"])}"' in page
    assert "not available" not in page


def test_the_audit_page_filters_by_action_prefix(client, production):
    officer = member(production, "compliance")
    response = signed_in(client, officer).get(reverse("audit-page", args=["show"]), {"action": "proposal."})
    assert response.content.decode().count('id="event-') == 1


def test_a_viewer_may_not_see_the_audit_trail(client, production):
    # given a viewer, when they open the audit page or export, then both are refused
    viewer = signed_in(client, member(production, "viewer"))
    assert viewer.get(reverse("audit-page", args=["show"])).status_code == 403
    assert viewer.post(reverse("audit-export", args=["show", "jsonl"]), {"reason": "curious"}).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_another_productions_member_gets_not_found(client, production):
    outsider = member(ProductionFactory(), "compliance")
    assert signed_in(client, outsider).get(reverse("audit-page", args=["show"])).status_code == 404


def test_an_export_download_streams_and_is_recorded(client, production):
    # given a producer
    producer = member(production, "producer")

    # when they download the CSV export, typing the reason
    response = signed_in(client, producer).post(reverse("audit-export", args=["show", "csv"]), {"reason": "guild"})

    # then it streams as an attachment ending in a manifest, and the download is on the record
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-show-')
    lines = body(response).decode().splitlines()
    assert lines[0].startswith("record,sequence") and lines[-1].startswith("manifest,")
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.actor == producer and event.reason == "guild" and event.production == production


def test_a_followed_export_link_only_fills_in_the_form(client, production):
    # given a producer who follows a crafted link with filters and a reason in it
    producer = signed_in(client, member(production, "producer"))
    checkpoints = Checkpoint.objects.count()

    # when they follow it
    response = producer.get(reverse("audit-export", args=["show", "csv"]),
                            {"action": "proposal.", "reason": "words put in my mouth"}, follow=True)

    # then nothing is exported or signed: the page shows the export form with the filter, an empty reason
    page = response.content.decode()
    assert response.status_code == 200 and not AuditEvent.objects.filter(action="audit.exported").exists()
    assert Checkpoint.objects.count() == checkpoints
    assert 'name="action" value="proposal."' in page and "words put in my mouth" not in page
    assert 'name="reason" required' in page


def test_an_export_needs_a_typed_reason_and_a_csrf_token(production):
    # given a producer whose browser enforces CSRF
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    producer = member(production, "producer")
    browser.force_login(producer)
    url = reverse("audit-export", args=["show", "jsonl"])

    # when an export is posted without a CSRF token, then without a reason
    no_token = browser.post(url, {"reason": "guild"})
    browser.get(reverse("audit-page", args=["show"]))
    token = browser.cookies["csrftoken"].value
    no_reason = browser.post(url, {"csrfmiddlewaretoken": token})

    # then both are refused and nothing is exported
    assert no_token.status_code == 403
    assert no_reason.status_code == 400 and b"Type why you export the log" in no_reason.content
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_a_bad_export_filter_is_a_clear_error(client, production):
    producer = signed_in(client, member(production, "producer"))
    response = producer.post(reverse("audit-export", args=["show", "jsonl"]), {"shot": "NOPE", "reason": "x"})
    assert response.status_code == 400 and b"No shot named 'NOPE'" in response.content
    assert producer.post(reverse("audit-export", args=["show", "xml"]), {"reason": "x"}).status_code == 400


def test_the_actor_filter_says_nothing_about_people_outside_the_production(client, production):
    # given someone on another production only
    stranger = member(ProductionFactory(), "producer")
    officer = signed_in(client, member(production, "compliance"))

    # when compliance filters by their name and by a name nobody has
    existing = officer.get(reverse("api-audit-events", args=["show"]), {"actor": stranger.username}).json()
    missing = officer.get(reverse("api-audit-events", args=["show"]), {"actor": "nobody-at-all"}).json()

    # then both answers are the same
    assert existing["actor"][0].replace(stranger.username, "X") == missing["actor"][0].replace("nobody-at-all", "X")


def test_verifying_from_the_page_reports_and_is_recorded(client, production):
    # given a compliance officer
    officer = signed_in(client, member(production, "compliance"))

    # when they press verify
    response = officer.post(reverse("audit-verify", args=["show"]), follow=True)

    # then they are told the log verifies, and their verification is on the record
    assert "The audit log verifies: 4 events" in response.content.decode()
    assert AuditEvent.objects.get(action="audit.verified").after["ok"] is True


def test_a_checkpoint_can_be_signed_from_the_page(client, production):
    officer = signed_in(client, member(production, "compliance"))
    response = officer.post(reverse("audit-checkpoint", args=["show"]), follow=True)
    assert "Checkpoint 1 signed: events #1–#4" in response.content.decode()
    assert Checkpoint.objects.count() == 1


def test_the_api_lists_filtered_events_in_a_fixed_number_of_queries(client, production,
                                                                  django_assert_num_queries):
    # given more events in the production
    officer = signed_in(client, member(production, "compliance"))
    with transaction.atomic():
        for i in range(20):
            record_event("comment.created", production=production)
    seal_pending()

    # when the API lists them by action, then the query count does not grow with the events
    with django_assert_num_queries(9):  # session, user, membership, unsealed?, count, page; none per event
        response = officer.get(reverse("api-audit-events", args=["show"]), {"action": "comment.created"})
    data = response.json()
    assert data["count"] == 20 and data["results"][0]["sequence"] == 24


def test_the_api_shows_the_signature_and_status(client, production):
    officer = signed_in(client, member(production, "compliance"))
    events = officer.get(reverse("api-audit-events", args=["show"]), {"action": "proposal.signed"}).json()
    assert events["results"][0]["signature"].startswith("Signed by Ada Lovelace")
    status = officer.get(reverse("api-audit-status", args=["show"])).json()
    assert status["last_sequence"] == 2 and len(status["public_key"]) == 64  # this production's last event and status["missing_protections"] == []


def test_the_api_export_ends_with_a_signed_manifest(client, production):
    officer = signed_in(client, member(production, "compliance"))
    response = officer.post(reverse("api-audit-export", args=["show", "jsonl"]), {"reason": "quarterly check"},
                            content_type="application/json")
    manifest = json.loads(body(response).decode().splitlines()[-1])
    assert manifest["record"] == "manifest" and manifest["filters"] == {"production": "show"}
    assert len(manifest["signature"]) == 128


@pytest.mark.parametrize("filters, error", [
    ({"actor": "Nobody Atall"}, "Nobody named &#x27;Nobody Atall&#x27; has a role here"),
    ({"shot": "SC999_SH999"}, "No shot named &#x27;SC999_SH999&#x27;"),
    ({"since": "2026-05-02T00:00", "until": "2026-05-01T00:00"}, "&#x27;since&#x27; must be before &#x27;until&#x27;"),
])
def test_a_filter_that_does_not_validate_lists_no_events(client, production, filters, error):
    # given a compliance officer on a production with events
    officer = member(production, "compliance")

    # when they filter by something that does not exist, or a reversed time range
    page = signed_in(client, officer).get(reverse("audit-page", args=["show"]), filters).content.decode()

    # then the error is shown and no event is, so nobody takes the full list for the filtered one
    assert error in page
    assert 'id="event-' not in page and "data-filter-refused" in page


def test_the_actor_filter_takes_the_name_the_list_shows(client, production):
    # given an event by a member whose printed name is shown in the list
    officer = member(production, "compliance")
    signer = member(production, "producer", user__full_name="Priya Raman")
    with transaction.atomic():
        record_event("fix_request.created", actor=signer, production=production)
    seal_pending()

    # when the officer filters by that name, in any case
    page = signed_in(client, officer).get(reverse("audit-page", args=["show"]), {"actor": "priya raman"})

    # then only that person's events are listed
    assert page.content.decode().count('id="event-') == 1
def test_the_status_shows_this_productions_head_not_the_whole_chains(client, production):
    # given events of another production after this one's
    officer = signed_in(client, member(production, "compliance"))
    before = officer.get(reverse("api-audit-status", args=["show"])).json()
    with transaction.atomic():
        for _ in range(3):
            record_event("comment.created", production=ProductionFactory())
    seal_pending()

    # when this production's status is read again, then it has not moved
    after = officer.get(reverse("api-audit-status", args=["show"])).json()
    assert (after["last_sequence"], after["last_hash"]) == (before["last_sequence"], before["last_hash"])
