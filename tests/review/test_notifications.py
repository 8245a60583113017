"""Mentions, replies, proposals and decisions reach the people they concern: in their inbox, live
and by e-mail, as each of them chose."""
import pytest
from django.core import mail

from answerprint.accounts.models import Role
from answerprint.review.models import Notification, NotificationPreference
from answerprint.review.services import create_comment
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://review.example.com"
    production = ProductionFactory(code="show", title="The Answer Print")
    shot = ShotFactory(production=production, name="SC010_SH030", first_frame=1001)
    version = VersionFactory(shot=shot, number=3)
    return {"version": version, "production": production,
            "supervisor": member(production, Role.SUPERVISOR, user__username="sam", user__full_name="Sam Okafor",
                                 user__email="sam@example.com"),
            "producer": member(production, Role.PRODUCER, user__username="priya", user__full_name="Priya Raman",
                               user__email="priya@example.com"),
            "outsider": member(ProductionFactory(), Role.PRODUCER, user__username="olga",
                               user__email="olga@example.com")}


def test_a_mention_reaches_the_inbox_and_the_mailbox_with_a_link_to_the_frame(people, django_capture_on_commit_callbacks):
    # given a supervisor writing a note on frame 1013 that mentions the producer
    with django_capture_on_commit_callbacks(execute=True):
        create_comment(actor=people["supervisor"], version=people["version"], frame=12,
                       body="@priya the boom shadow is back here")

    # then the producer has it in the inbox, linked to that frame, and by e-mail
    notification = Notification.objects.get(recipient=people["producer"])
    assert notification.kind == "mention" and notification.read_at is None
    assert notification.text == "Sam Okafor mentioned you on SC010_SH030 v003 at frame 1013: “@priya the boom shadow is back here”"
    assert notification.url == "/p/show/shots/SC010_SH030/?v=3&frame=1013"
    message, = mail.outbox
    assert message.to == ["priya@example.com"] and "https://review.example.com/p/show/shots/SC010_SH030/?v=3&frame=1013" in message.body
    # and the writer is not told about their own note
    assert not Notification.objects.filter(recipient=people["supervisor"]).exists()


def test_a_reply_tells_the_author_of_the_note_it_answers(people):
    note = create_comment(actor=people["supervisor"], version=people["version"], frame=0, body="Check the edge").obj
    create_comment(actor=people["producer"], version=people["version"], parent=note, body="Looks fine to me")
    reply, = Notification.objects.filter(recipient=people["supervisor"])
    assert reply.kind == "reply" and reply.text.startswith("Priya Raman replied to your note")


def test_someone_outside_the_production_is_never_notified(people):
    create_comment(actor=people["supervisor"], version=people["version"], body="@olga have a look")
    assert not Notification.objects.filter(recipient=people["outsider"]).exists()


def test_preferences_keep_a_kind_out_of_the_mailbox_or_the_inbox(people, django_capture_on_commit_callbacks):
    # given a producer who wants mentions in the inbox only, and replies by e-mail only
    NotificationPreference.objects.create(user=people["producer"], kind="mention", in_app=True, email=False)
    NotificationPreference.objects.create(user=people["producer"], kind="reply", in_app=False, email=True)
    mine = create_comment(actor=people["producer"], version=people["version"], body="Mine").obj

    # when the supervisor mentions them, then replies to their note
    with django_capture_on_commit_callbacks(execute=True):
        create_comment(actor=people["supervisor"], version=people["version"], body="@priya see this")
        create_comment(actor=people["supervisor"], version=people["version"], parent=mine, body="Agreed")

    # then the mention is unread in the inbox with no mail, the reply mailed and not unread
    mention = Notification.objects.get(recipient=people["producer"], kind="mention")
    reply = Notification.objects.get(recipient=people["producer"], kind="reply")
    assert mention.read_at is None and mention.emailed_at is None
    assert reply.read_at is not None and reply.emailed_at is not None
    assert [m.subject for m in mail.outbox] == ["[The Answer Print] Sam Okafor replied to your note on SC010_SH030 v003: “Agreed”"]


def test_the_inbox_lists_opens_and_marks_read(client, people):
    create_comment(actor=people["supervisor"], version=people["version"], frame=4, body="@priya here")
    notification = Notification.objects.get(recipient=people["producer"])
    client.force_login(people["producer"])

    page = client.get("/inbox/").content.decode()
    assert notification.text.replace("“", "&ldquo;")[:20] in page or "mentioned you" in page
    assert 'data-bell-count >1</span>' in page or ">1</span>" in page

    response = client.get(f"/inbox/{notification.pk}/")
    assert response.status_code == 302 and response["Location"] == "/p/show/shots/SC010_SH030/?v=3&frame=1005"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_someone_else_s_notification_is_not_found(client, people):
    create_comment(actor=people["supervisor"], version=people["version"], body="@priya here")
    notification = Notification.objects.get(recipient=people["producer"])
    client.force_login(people["supervisor"])
    assert client.get(f"/inbox/{notification.pk}/").status_code == 404


def test_saving_preferences_from_the_inbox(client, people):
    client.force_login(people["producer"])
    client.post("/inbox/preferences/", {"mention.in_app": "on", "decision.email": "on"})
    saved = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=people["producer"])}
    assert saved["mention"] == (True, False) and saved["decision"] == (False, True) and saved["reply"] == (False, False)
