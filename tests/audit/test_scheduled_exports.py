import hashlib
import json
import os
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from answerprint.audit.chain import canonical_payload
from answerprint.audit.models import AuditEvent, ExportSchedule, StoredExport
from answerprint.audit.services import record_event
from answerprint.audit.signing import public_key_hex
from answerprint.audit.stored_exports import create_export_schedule, next_run_after, run_due_schedules
from answerprint.audit.tasks import run_scheduled_exports
from answerprint.celery import app, tasks_run_here
from tests.audit.test_exports import verify
from tests.factories import PASSWORD, ProductionFactory, member


@pytest.fixture
def production(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    production = ProductionFactory(code="show")
    with transaction.atomic():
        record_event("shot.created", production=production, after={"name": "SC001_SH010"})
        record_event("shot.created", production=ProductionFactory(), after={"name": "elsewhere"})
    return production


@pytest.fixture
def officer(production):
    return member(production, "compliance")


def monthly(production, officer, report="audit.jsonl"):
    return create_export_schedule(actor=officer, production=production, report=report, frequency="monthly",
                                  reason="The guild's monthly audit")


def stored_bytes(export):
    with default_storage.open(export.file.name, "rb") as stream:
        return stream.read()


def test_a_due_schedule_runs_from_beat_and_stores_an_export_that_verifies_offline(production, officer, tmp_path):
    # given a monthly schedule, and beat set to run the scheduled exports task
    schedule = monthly(production, officer)
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values()
                 if e["task"] == "answerprint.audit.tasks.run_scheduled_exports")
    assert entry["task"] in app.tasks

    # when beat's task runs
    with tasks_run_here():
        stored_ids = run_scheduled_exports.delay().get()

    # then one export is stored, whose bytes match its recorded hash and its signed manifest
    export = StoredExport.objects.get()
    assert stored_ids == [export.pk] and export.schedule == schedule
    data = stored_bytes(export)
    assert hashlib.sha256(data).hexdigest() == export.sha256 == export.manifest["sha256"]
    body = {k: v for k, v in export.manifest.items() if k not in ("signature", "public_key", "key_id")}
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex())).verify(
        bytes.fromhex(export.manifest["signature"]), canonical_payload(body))
    # and the export itself is the production's log, which an auditor verifies with one file
    copy = tmp_path / "stored.jsonl"
    copy.write_bytes(data)
    code, output = verify(copy, public_key_hex())
    assert code == 0, output
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert "elsewhere" not in json.dumps([line for line in lines if line["record"] == "event"])
    # and the next run is a month on, so running again now stores nothing
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() + timedelta(days=27)
    assert run_due_schedules() == []
    assert AuditEvent.objects.filter(action="audit.export_stored").count() == 1


def test_the_next_run_covers_what_came_after_the_last_one(production, officer):
    # given a schedule that ran once
    monthly(production, officer)
    first = run_due_schedules()[0]
    with transaction.atomic():
        record_event("shot.updated", production=production, after={"name": "after the first run"})

    # when it runs again a month later
    second = run_due_schedules(now=timezone.now() + timedelta(days=32))[0]

    # then the second export starts where the first ended and holds only what came after
    assert second.period_start == first.period_end
    events = [json.loads(line) for line in stored_bytes(second).decode().splitlines()]
    actions = [e["action"] for e in events if e["record"] == "event"]
    assert "shot.updated" in actions and "shot.created" not in actions


def test_a_stored_export_cannot_be_changed_or_deleted(production, officer):
    # given a stored export
    monthly(production, officer)
    export = run_due_schedules()[0]

    # when anyone tries to change or delete its record, the database refuses
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StoredExport.objects.filter(pk=export.pk).update(sha256="0" * 64)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StoredExport.objects.filter(pk=export.pk).delete()

    # and its file is read-only on disk
    assert not os.stat(default_storage.path(export.file.name)).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert StoredExport.objects.get(pk=export.pk).sha256 == export.sha256


def test_a_disclosure_can_be_scheduled_too(production, officer):
    monthly(production, officer, report="disclosure.pdf")
    export = run_due_schedules()[0]
    assert stored_bytes(export).startswith(b"%PDF-1.7") and export.file_name.endswith(".pdf")


def test_every_download_is_checked_and_recorded(client, production, officer):
    # given a stored export
    monthly(production, officer)
    export = run_due_schedules()[0]
    client.login(username=officer.username, password=PASSWORD)
    url = reverse("audit-stored-export", args=["show", export.pk])

    # when compliance downloads it, they get exactly the stored bytes, and the download is recorded
    response = client.post(url, {"reason": "guild audit"})
    assert response.status_code == 200 and b"".join(response) == stored_bytes(export)
    assert AuditEvent.objects.filter(action="audit.stored_export_downloaded", actor=officer).count() == 1

    # when the file is altered behind the database's back, it is refused and that is recorded
    path = default_storage.path(export.file.name)
    os.chmod(path, 0o644)
    with open(path, "ab") as handle:
        handle.write(b"\n")
    response = client.post(url, {"reason": "guild audit"})
    assert response.status_code == 409 and "no longer matches" in response.content.decode()
    assert AuditEvent.objects.filter(action="audit.stored_export_altered").exists()


def test_tools_list_and_download_stored_exports_through_the_api(client, production, officer):
    # given a stored export
    monthly(production, officer)
    export = run_due_schedules()[0]
    client.login(username=officer.username, password=PASSWORD)

    # when a compliance tool lists them, it gets each one's hash, manifest and download address
    listed = client.get(reverse("api-audit-stored-exports", args=["show"])).json()["results"]
    assert [(e["id"], e["sha256"], e["manifest"]["key_id"]) for e in listed] == \
        [(export.pk, export.sha256, export.manifest["key_id"])]

    # and the download gives the stored bytes and is recorded
    response = client.get(listed[0]["download"])
    assert response.status_code == 200 and b"".join(response) == stored_bytes(export)
    assert AuditEvent.objects.filter(action="audit.stored_export_downloaded", actor=officer).exists()
    # and another production's member gets nothing
    outsider = member(ProductionFactory(), "compliance")
    client.login(username=outsider.username, password=PASSWORD)
    assert client.get(listed[0]["download"]).status_code == 404


def test_schedules_are_set_from_the_audit_page_by_compliance_only(client, production, officer):
    # a viewer may not set one
    viewer = member(production, "viewer")
    client.login(username=viewer.username, password=PASSWORD)
    url = reverse("audit-schedule-create", args=["show"])
    data = {"report": "audit.pdf", "frequency": "weekly", "reason": "Studio legal"}
    assert client.post(url, data).status_code == 403
    # a member of another production gets nothing, as if it were not there
    outsider = member(ProductionFactory(), "compliance")
    client.login(username=outsider.username, password=PASSWORD)
    assert client.post(url, data).status_code == 404
    # compliance sets one; a schedule without a reason is refused and nothing is kept
    client.login(username=officer.username, password=PASSWORD)
    client.post(url, {**data, "reason": " "})
    assert not ExportSchedule.objects.exists()
    client.post(url, data)
    schedule = ExportSchedule.objects.get()
    assert (schedule.report, schedule.frequency, schedule.created_by) == ("audit.pdf", "weekly", officer)
    page = client.get(reverse("audit-page", args=["show"])).content.decode()
    assert "Audit report, PDF/A" in page
    # and stops it
    client.post(reverse("audit-schedule-stop", args=["show", schedule.pk]))
    schedule.refresh_from_db()
    assert not schedule.active
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="export_schedule.")] == \
        ["export_schedule.created", "export_schedule.stopped"]


def test_months_roll_over_to_the_last_day_when_shorter():
    from datetime import datetime
    from datetime import timezone as tz

    assert next_run_after(datetime(2026, 1, 31, 6, tzinfo=tz.utc), "monthly") == datetime(2026, 2, 28, 6, tzinfo=tz.utc)
    assert next_run_after(datetime(2026, 12, 15, tzinfo=tz.utc), "monthly") == datetime(2027, 1, 15, tzinfo=tz.utc)
