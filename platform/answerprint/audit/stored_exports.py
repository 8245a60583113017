"""Scheduled exports, stored write-once, and their audited downloads.

Compliance sets a schedule (a report of one production, daily, weekly or monthly); Celery beat
calls `run_due_schedules` every few minutes; each due schedule makes its report, stores the file
under a name never used before, and records a `StoredExport` row that the database refuses to
change or delete, with a manifest signed by the audit key (file name, size, SHA-256, scope and
period). A download checks the bytes against that SHA-256 first and is an audit event itself.
"""
from __future__ import annotations

import calendar
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from answerprint.accounts.permissions import require
from answerprint.accounts.selectors import membership_for

from .chain import canonical_payload
from .models import ExportFrequency, ExportReport, ExportSchedule, StoredExport
from .services import record_event

logger = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024


class StoredExportAltered(Exception):
    """The stored bytes are not the ones that were stored: never served."""


def next_run_after(moment: datetime, frequency: str) -> datetime:
    if frequency == ExportFrequency.DAILY:
        return moment + timedelta(days=1)
    if frequency == ExportFrequency.WEEKLY:
        return moment + timedelta(days=7)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _require_compliance(actor, production):
    membership = membership_for(actor, production)
    require(membership, "view_audit")
    return membership


def create_export_schedule(*, actor, production, report: str, frequency: str, reason: str,
                           first_run_at: datetime | None = None) -> ExportSchedule:
    """A new standing order; its first run is due at once unless `first_run_at` says otherwise."""
    _require_compliance(actor, production)
    errors = {}
    if report not in ExportReport.values:
        errors["report"] = f"Choose one of {', '.join(ExportReport.values)}."
    if frequency not in ExportFrequency.values:
        errors["frequency"] = f"Choose one of {', '.join(ExportFrequency.values)}."
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Say why these exports are kept (e.g. the guild's monthly audit)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        schedule = ExportSchedule.objects.create(production=production, report=report, frequency=frequency,
                                                 reason=reason[:2000], created_by=actor,
                                                 next_run_at=first_run_at or timezone.now())
        record_event("export_schedule.created", actor=actor, production=production, target=schedule, reason=reason,
                     after={"report": report, "frequency": frequency, "next_run_at": schedule.next_run_at})
    return schedule


def stop_export_schedule(*, actor, schedule: ExportSchedule, reason: str = "") -> ExportSchedule:
    _require_compliance(actor, schedule.production)
    with transaction.atomic():
        schedule = ExportSchedule.objects.select_for_update().get(pk=schedule.pk)
        if not schedule.active:
            return schedule
        schedule.active = False
        schedule.save(update_fields=["active"])
        record_event("export_schedule.stopped", actor=actor, production=schedule.production, target=schedule,
                     reason=reason, before={"active": True}, after={"active": False})
    return schedule


# --- Running ------------------------------------------------------------------------------------

def _claim(schedule_id: int, now: datetime) -> tuple[ExportSchedule, datetime | None] | None:
    """Move a due schedule's next run on, so a second beat (or worker) does not run it too.
    Returns the schedule and the start of the period this run covers."""
    with transaction.atomic():
        schedule = ExportSchedule.objects.select_for_update().select_related("production").get(pk=schedule_id)
        if not schedule.active or schedule.next_run_at > now:
            return None
        previous = StoredExport.objects.filter(schedule=schedule).order_by("-period_end").values_list(
            "period_end", flat=True).first()
        while schedule.next_run_at <= now:  # a beat that was down for a while runs once, not once per miss
            schedule.next_run_at = next_run_after(schedule.next_run_at, schedule.frequency)
        schedule.last_run_at = now
        schedule.save(update_fields=["next_run_at", "last_run_at"])
    return schedule, previous


def _chunks(schedule: ExportSchedule, period_start: datetime | None, period_end: datetime) -> Iterator[bytes]:
    family, fmt = schedule.report.split(".")
    reason = f"{schedule.get_frequency_display()} export: {schedule.reason}"
    if family == "audit":
        from .exports import start_export
        from .forms import ExportFilterForm

        data = {"until": period_end.isoformat()}
        if period_start is not None:
            data["since"] = period_start.isoformat()
        form = ExportFilterForm(data, production=schedule.production)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return start_export(actor=None, fmt=fmt, request=form.export_request(), production=schedule.production,
                            reason=reason)
    from .disclosure import DisclosureScope, start_disclosure

    return start_disclosure(actor=None, fmt=fmt, scope=DisclosureScope(schedule.production), reason=reason)


def _file_name(schedule: ExportSchedule, period_end: datetime) -> str:
    family, fmt = schedule.report.split(".")
    stamp = period_end.astimezone(dt_timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    what = "audit" if family == "audit" else "ai-disclosure"
    return f"{what}-{schedule.production.code}-{stamp}.{fmt}"


def store_export(*, schedule: ExportSchedule, period_start: datetime | None, period_end: datetime) -> StoredExport:
    """Make the schedule's report, keep it under a new name and record it, write-once."""
    from .signing import key_id, sign

    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(prefix="answerprint-export-", delete=False) as handle:
        try:
            for chunk in _chunks(schedule, period_start, period_end):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            handle.close()
            file_name = _file_name(schedule, period_end)
            with open(handle.name, "rb") as stream:
                # The storage picks a fresh name if this one is taken: a stored file is never replaced.
                stored = default_storage.save(f"exports/{schedule.production.code}/{file_name}", File(stream))
        finally:
            os.unlink(handle.name)
    _make_read_only(stored)
    now = timezone.now()
    body = {"file_name": file_name, "sha256": digest.hexdigest(), "size_bytes": size, "report": schedule.report,
            "production": schedule.production.code,
            "period_start": period_start.isoformat() if period_start else None,
            "period_end": period_end.isoformat(), "stored_at": now.isoformat()}
    signature, public_key = sign(canonical_payload(body))
    manifest = {**body, "signature": signature, "public_key": public_key, "key_id": key_id(public_key)}
    try:
        with transaction.atomic():
            export = StoredExport.objects.create(
                production=schedule.production, schedule=schedule, report=schedule.report, period_start=period_start,
                period_end=period_end, file=stored, file_name=file_name, sha256=body["sha256"], size_bytes=size,
                manifest=manifest, generated_by="system (scheduled)", created_at=now)
            record_event("audit.export_stored", production=schedule.production, target=export,
                         actor_name="system (scheduled)", actor_role="",
                         after={"schedule": schedule.pk, "file_name": file_name, "sha256": body["sha256"],
                                "size_bytes": size, "key_id": manifest["key_id"]})
    except BaseException:
        default_storage.delete(stored)
        raise
    return export


def _make_read_only(name: str) -> None:
    try:
        path = default_storage.path(name)
    except NotImplementedError:  # object storage: write-once is the bucket's object lock
        return
    os.chmod(path, 0o444)


def run_due_schedules(now: datetime | None = None) -> list[StoredExport]:
    """Run every active schedule that is due; one that fails is logged, audited, and tried again at
    the next beat, and does not stop the others."""
    now = now or timezone.now()
    stored = []
    for schedule_id in ExportSchedule.objects.filter(active=True, next_run_at__lte=now).values_list("pk", flat=True):
        claimed = _claim(schedule_id, now)
        if claimed is None:
            continue
        schedule, period_start = claimed
        try:
            stored.append(store_export(schedule=schedule, period_start=period_start, period_end=now))
        except Exception as error:  # noqa: BLE001 - reported, audited, retried; the other schedules still run
            logger.exception("Scheduled export %s failed", schedule_id)
            with transaction.atomic():
                ExportSchedule.objects.filter(pk=schedule_id).update(next_run_at=now)
                record_event("export_schedule.failed", production=schedule.production, target=schedule,
                             actor_name="system (scheduled)", actor_role="", reason=str(error)[:2000])
    return stored


# --- Downloads -----------------------------------------------------------------------------------

def open_stored_export(*, actor, export: StoredExport, reason: str = "") -> Iterator[bytes]:
    """Check the stored bytes against the recorded SHA-256, record the download, return the bytes.

    Altered bytes are refused (and that is recorded); nothing is sent."""
    _require_compliance(actor, export.production)
    digest = hashlib.sha256()
    with default_storage.open(export.file.name, "rb") as stream:
        for chunk in iter(lambda: stream.read(READ_CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != export.sha256:
        with transaction.atomic():
            record_event("audit.stored_export_altered", actor=actor, production=export.production, target=export,
                         after={"recorded_sha256": export.sha256, "found_sha256": digest.hexdigest()})
        raise StoredExportAltered(f"{export.file_name} no longer matches the SHA-256 recorded when it was stored "
                                  f"({export.sha256[:16]}…): it is not served. The audit log records this.")
    with transaction.atomic():
        record_event("audit.stored_export_downloaded", actor=actor, production=export.production, target=export,
                     reason=reason, after={"sha256": export.sha256})

    def chunks():
        with default_storage.open(export.file.name, "rb") as stream:
            yield from iter(lambda: stream.read(READ_CHUNK), b"")
    return chunks()
