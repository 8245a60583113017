"""The AI-disclosure report: every AI-made change that reached a deliverable, for a guild or a distributor.

SAG-AFTRA's digital-alteration terms and studios' generative-AI guidance ask a producer to show,
per production or per delivery, what the AI changed and where, whether it touched a performance or
a likeness and under which consent, who approved it, and what the model learned from. One row per
delivered proposal (a proposal promoted to a delivery version): nothing that was only proposed,
rejected or approved but never delivered. CSV, JSON and the PDF style of the audit report.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timezone as dt_timezone

from django.utils import timezone

from answerprint.fixes.kinds import Category

from .pdf import PDFWriter, Style
from .report import GREY, SMALL, frames_of, qc_verdict, when

FORMATS = {
    "json": ("application/json; charset=utf-8", "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "pdf": ("application/pdf", "pdf"),
}
CHANGE_CATEGORY = {Category.TECHNICAL: "technical", Category.DIGITAL_ALTERATION: "performance or likeness",
                   Category.DIGITAL_REPLICA: "performance or likeness (digital replica)"}
CSV_COLUMNS = ("delivery", "shot", "frames", "kind", "change_category", "consent", "approvers", "qc_verdict",
               "model", "model_card_sha256", "media_sha256", "training_sources")


@dataclass(frozen=True)
class DisclosureScope:
    production: object
    delivery: object = None  # a delivery Version, or None for the whole production


def _delivered(scope: DisclosureScope):
    from answerprint.fixes.models import Proposal

    proposals = (Proposal.objects.filter(request__production=scope.production, delivery_version__isnull=False)
                 .select_related("request__shot", "request__consent", "request__source_version__shot",
                                 "request__reference_version__shot", "request__replacement_version__shot",
                                 "version", "delivery_version")
                 .prefetch_related("decisions").order_by("request__shot__name", "delivery_version__number", "pk"))
    if scope.delivery is not None:
        proposals = proposals.filter(delivery_version=scope.delivery)
    return proposals


def _consent(fix) -> dict | None:
    """The consent the request was made under. Whether one was needed was decided when it was
    requested (and checked again at approval and delivery); a later policy change does not move it.
    Only a change to a performance or likeness without one is reported as missing."""
    consent = fix.consent
    if consent is not None:
        return {"performer": consent.performer, "type": consent.get_consent_type_display(),
                "scope": consent.scope, "signed_by": consent.signed_by, "signed_at": when(consent.signed_at),
                "document_sha256": consent.document_sha256, "status_now": consent.status}
    if fix.category != Category.TECHNICAL:
        return {"missing": "a change to a performance or likeness with no consent on record"}
    return None


def _source(role: str, version, given: dict | None, frames: str = "") -> dict | None:
    if version is None:
        return None
    source = {"role": role, "shot": version.shot.name, "version": version.number,
              "sha256": (given or {}).get("sha256", "")}
    if frames:
        source["frames"] = frames
    return source


def training_sources(proposal) -> list[dict]:
    """What of this production the model was fitted on: the versions it was given (with the hashes
    the job recorded in the model card) and the frames it fitted on. Every model here is fitted on the
    production's own footage for this one request; the card's own statement is kept."""
    fix = proposal.request
    card = proposal.model_card if isinstance(proposal.model_card, dict) else {}
    given = card.get("platform") if isinstance(card.get("platform"), dict) else {}
    fitted = card.get("fitted_on") if isinstance(card.get("fitted_on"), dict) else {}
    frames = frames_of(fix) + (f", fitted on {fitted['frames']} of them (sha256 of all {fitted['sha256_of_all']})"
                               if fitted.get("frames") and fitted.get("sha256_of_all") else "")
    sources = [_source("shot being fixed", fix.source_version, given.get("source"), frames),
               _source("colour / light reference", fix.reference_version, given.get("reference")),
               _source("replacement plate", fix.replacement_version, given.get("replacement"))]
    return [s for s in sources if s is not None]


def disclosure_rows(scope: DisclosureScope) -> list[dict]:
    from answerprint.fixes.kinds import KINDS
    from answerprint.fixes.models import Outcome

    rows = []
    for proposal in _delivered(scope):
        fix = proposal.request
        kind = KINDS.get(fix.kind)
        card = proposal.model_card if isinstance(proposal.model_card, dict) else {}
        rows.append({
            "delivery": {"version": proposal.delivery_version.number, "shot": fix.shot.name,
                         "delivered_at": when(proposal.delivery_version.created_at)},
            "shot": fix.shot.name,
            "frames": frames_of(fix),
            "kind": kind.label if kind else fix.kind,
            "change_category": CHANGE_CATEGORY.get(fix.category, fix.category),
            "reason": fix.reason,
            "consent": _consent(fix),
            "approvers": [{"printed_name": d.printed_name, "role": d.role, "meaning": d.meaning,
                           "signed_at": when(d.signed_at), "record_hash": d.record_hash,
                           "acknowledged_warning": d.acknowledged_warning or None}
                          for d in proposal.decisions.all() if d.outcome == Outcome.APPROVE],
            "qc_verdict": qc_verdict(card),
            "model": {key: card[key] for key in ("kind", "method", "method_version", "package") if key in card},
            "model_card_sha256": proposal.model_card_sha256,
            "media_sha256": proposal.media_sha256,
            "trained_on": card.get("trained_on", ""),
            "training_sources": training_sources(proposal),
        })
    return rows


def _header(scope: DisclosureScope, actor_name: str) -> dict:
    return {"report": "answerprint-ai-disclosure", "version": 1, "production": scope.production.code,
            "production_title": scope.production.title,
            "delivery": scope.delivery.number if scope.delivery is not None else None,
            "generated_at": timezone.now().astimezone(dt_timezone.utc).isoformat(timespec="seconds"),
            "generated_by": actor_name}


def _consent_text(consent: dict | None) -> str:
    if consent is None:
        return "not needed (technical change)"
    if "missing" in consent:
        return f"MISSING: {consent['missing']}"
    return (f"{consent['performer']}: {consent['type']}, signed by {consent['signed_by']} on {consent['signed_at']} "
            f"(document sha256 {consent['document_sha256']}; now {consent['status_now']})")


def _approvers_text(approvers: list[dict]) -> str:
    return "; ".join(f"{a['printed_name']} ({a['role']}), {a['meaning']}, {a['signed_at']}" for a in approvers)


def _sources_text(sources: list[dict]) -> str:
    return "; ".join(f"{s['role']}: {s['shot']} v{s['version']:03d}" + (f" frames {s['frames']}" if "frames" in s else "")
                     + (f" (sha256 {s['sha256']})" if s["sha256"] else "") for s in sources)


def json_chunks(scope: DisclosureScope, actor_name: str) -> Iterator[bytes]:
    rows = disclosure_rows(scope)
    yield json.dumps({**_header(scope, actor_name), "changes": rows}, ensure_ascii=False, indent=1).encode("utf-8")


def csv_chunks(scope: DisclosureScope, actor_name: str) -> Iterator[bytes]:
    from .exports import csv_cell

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in disclosure_rows(scope):
        writer.writerow([csv_cell(value) for value in (
            f"{row['delivery']['shot']} v{row['delivery']['version']:03d}", row["shot"], row["frames"], row["kind"],
            row["change_category"], _consent_text(row["consent"]), _approvers_text(row["approvers"]),
            row["qc_verdict"], " ".join(str(v) for v in row["model"].values()), row["model_card_sha256"],
            row["media_sha256"], _sources_text(row["training_sources"]))])
    yield text.getvalue().encode("utf-8")


def pdf_chunks(scope: DisclosureScope, actor_name: str) -> Iterator[bytes]:
    header = _header(scope, actor_name)
    target = f"delivery v{scope.delivery.number:03d}" if scope.delivery is not None else "all deliveries"
    title = f"AI disclosure — {scope.production.title}"
    pdf = PDFWriter(title, subject="AI-made changes that reached a deliverable", author=actor_name)
    pdf.header = lambda page: page.draw_text(f"{title} · {target}", 42, 815, GREY)
    pdf.paragraph(title, Style(size=18, bold=True), after=8)
    rows = disclosure_rows(scope)
    pdf.table([("", 0.22), ("", 0.78)], [
        ("Production", f"{scope.production.title} ({scope.production.code})"), ("Scope", target),
        ("Generated by", actor_name), ("Generated at", when(header["generated_at"])),
        ("AI-made changes delivered", str(len(rows))),
        ("Performance or likeness", str(sum(1 for r in rows if r["change_category"] != "technical"))),
    ], style=Style(size=8.5), header=False)
    pdf.paragraph("Each change below reached a deliverable. Technical changes keep the work substantially as "
                  "recorded; a change to a performance or likeness lists the consent that covered it. The model "
                  "card hash identifies the exact model, parameters and inputs; the training sources are the "
                  "footage of this production the model was fitted on.", SMALL)
    for row in rows:
        pdf.heading(f"{row['shot']} · frames {row['frames']} · {row['kind']} → delivery "
                    f"v{row['delivery']['version']:03d}", size=10)
        pdf.table([("", 0.22), ("", 0.78)], [
            ("Change category", row["change_category"]), ("Why", row["reason"]),
            ("Consent", _consent_text(row["consent"])), ("Approved by", _approvers_text(row["approvers"]) or "—"),
            ("QC verdict", row["qc_verdict"]), ("Model", " ".join(str(v) for v in row["model"].values()) or "—"),
            ("Model card sha256", row["model_card_sha256"]), ("Delivered media sha256", row["media_sha256"]),
            ("Trained on", row["trained_on"] or "—"), ("Training sources", _sources_text(row["training_sources"])),
            ("Delivered", row["delivery"]["delivered_at"]),
        ], style=SMALL, header=False)
        yield pdf.take()
    if not rows:
        pdf.paragraph("No AI-made change has reached a deliverable in this scope.", Style(size=9))
    yield pdf.close()


WRITERS = {"json": json_chunks, "csv": csv_chunks, "pdf": pdf_chunks}


def start_disclosure(*, actor, fmt: str, scope: DisclosureScope, reason: str = "") -> Iterator[bytes]:
    """Record that the disclosure report was taken (a read that matters), then return its bytes."""
    from django.db import transaction

    from .services import record_event

    if fmt not in WRITERS:
        raise ValueError(f"Unknown format {fmt!r}; choose one of {', '.join(WRITERS)}.")
    with transaction.atomic():
        record_event("audit.disclosure_exported", actor=actor, production=scope.production, reason=reason,
                     target=scope.delivery, after={"format": fmt})
    return WRITERS[fmt](scope, actor.printed_name if actor is not None else "system")


def disclosure_filename(fmt: str, scope: DisclosureScope) -> str:
    stamp = timezone.now().astimezone(dt_timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    part = f"-v{scope.delivery.number:03d}-{scope.delivery.shot.name}" if scope.delivery is not None else ""
    return f"ai-disclosure-{scope.production.code}{part}-{stamp}.{FORMATS[fmt][1]}"
