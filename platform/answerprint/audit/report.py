"""The audit report: the PDF/A document a guild auditor or a studio's legal team reads.

Cover (what, for whom, by whom and why, the digest and how to check it offline), summary,
signature manifestations (21 CFR 11.50: printed name, date and time with zone, meaning, what was
signed, the QC verdict shown at the time), each shot's lineage from request to delivery, and the
event log with readable changes and every gap in the sequence explained. The log is streamed: the
sections before it are bounded by the production's decisions, not by its events.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import timezone as dt_timezone

from django.db.models import Count, Max, Min
from django.utils import timezone

from .models import AuditEvent, Checkpoint
from .pdf import BODY_WIDTH, HEADER_Y, MARGIN, PAGE_WIDTH, PDFWriter, Style

NOT_RECORDED = "not recorded"
OFFLINE_CHECK = ("To check this report without access to Answerprint: export JSON Lines with the same filters "
                 "(audit page, or GET /api/productions/<code>/audit/export.jsonl), then run "
                 "`python offline_verifier.py export.jsonl --public-key <public key above>` (the script is "
                 "platform/answerprint/audit/offline_verifier.py; it needs Python and the cryptography package). "
                 "It recomputes every event's hash, the chain and every checkpoint's signed Merkle root. Its "
                 "manifest's events_sha256 covers the events listed here, plus the later export's own event.")

SMALL = Style(size=7.5)
GREY = Style(size=7, grey=0.4)
BOLD = Style(size=8.5, bold=True)
BODY = Style(size=8.5)


def when(moment) -> str:
    """A date and time with its zone, as every signature and event shows it."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        from django.utils.dateparse import parse_datetime

        moment = parse_datetime(moment) or moment
        if isinstance(moment, str):
            return moment
    return f"{moment.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


# --- Changes in words ----------------------------------------------------------------------------

def _flatten(value, prefix: str = "", depth: int = 0) -> dict:
    if isinstance(value, dict) and depth < 3:
        out: dict = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key), depth + 1))
        return out or ({prefix: {}} if prefix else {})
    return {prefix or "value": value}


def shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value or "(empty)"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(shown(v) for v in value) or "(empty)"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def readable_changes(before, after) -> list[str]:
    """One line per field: `field: before → after`, `field: value` when set, `(removed)` when gone."""
    old, new = _flatten(before) if before is not None else {}, _flatten(after) if after is not None else {}
    lines = []
    for key in list(new) + [k for k in old if k not in new]:
        if key in old and key in new:
            if old[key] != new[key]:
                lines.append(f"{key}: {shown(old[key])} → {shown(new[key])}")
        elif key in new:
            lines.append(f"{key}: {shown(new[key])}" if before is None else f"{key}: (not set) → {shown(new[key])}")
        else:
            lines.append(f"{key}: {shown(old[key])} → (removed)")
    return lines


# --- What the sections read ----------------------------------------------------------------------

def in_scope(queryset, request, *, fix: str, time: str):
    """Rows of the report's production, shot and period; `fix` is the path to their FixRequest."""
    prefix = f"{fix}__" if fix else ""
    if request.production is not None:
        queryset = queryset.filter(**{f"{prefix}production": request.production})
    if request.shot is not None:
        queryset = queryset.filter(**{f"{prefix}shot": request.shot})
    if request.since is not None:
        queryset = queryset.filter(**{f"{time}__gte": request.since})
    if request.until is not None:
        queryset = queryset.filter(**{f"{time}__lt": request.until})
    return queryset


def _decisions(request):
    from answerprint.fixes.models import Decision

    decisions = Decision.objects.select_related("proposal__request__shot", "proposal__version").order_by("signed_at", "pk")
    return in_scope(decisions, request, fix="proposal__request", time="signed_at")


def qc_verdict(model_card, acknowledged_warning: str = "") -> str:
    """The QC verdict the proposal's model card carried when it was signed (the card is hash-bound),
    and the warning the signer acknowledged, if the verdict asked for one."""
    from answerprint.fixes.qc import LABELS

    qc = model_card.get("qc") if isinstance(model_card, dict) else None
    if not isinstance(qc, dict) or not qc.get("verdict"):
        text = NOT_RECORDED
    else:
        label = LABELS.get(qc["verdict"], str(qc["verdict"]))
        text = f"{label}: {qc['summary']}" if qc.get("summary") else label
    if acknowledged_warning:
        text += f" — the signer acknowledged: {acknowledged_warning}"
    return text


def frames_of(fix) -> str:
    first = fix.shot.first_frame
    return f"{first + fix.frame_in}–{first + fix.frame_out}"


def signature_rows(request) -> list[tuple]:
    """Every signature (an approval decision) in scope: the §11.50 manifestation and what was signed."""
    from answerprint.fixes.kinds import KINDS
    from answerprint.fixes.models import Meaning, Outcome

    rows = []
    for decision in _decisions(request).filter(outcome=Outcome.APPROVE):
        proposal = decision.proposal
        fix = proposal.request
        kind = KINDS[fix.kind].label if fix.kind in KINDS else fix.kind
        meaning = Meaning(decision.meaning).label if decision.meaning in Meaning.values else decision.meaning
        rows.append((
            f"{decision.printed_name} ({decision.role})",
            when(decision.signed_at),
            meaning,
            f"{fix.shot.name} · {kind} · frames {frames_of(fix)} · proposal v{proposal.version.number:03d} · "
            f"record sha256 {decision.record_hash}",
            qc_verdict(proposal.model_card, decision.acknowledged_warning),
        ))
    return rows


def _lineage(request) -> Iterator[tuple[str, list[str]]]:
    """(shot name, lines) per shot: request → job → proposal → decisions → delivery."""
    from answerprint.fixes.kinds import KINDS
    from answerprint.fixes.models import FixRequest

    fixes = in_scope(FixRequest.objects.select_related("shot", "requested_by", "proposal__version",
                                                       "proposal__delivery_version")
                     .prefetch_related("jobs", "proposal__decisions").order_by("shot__name", "created_at", "pk"),
                     request, fix="", time="created_at")
    shot, lines = None, []
    for fix in fixes:
        if fix.shot.name != shot:
            if lines:
                yield shot, lines
            shot, lines = fix.shot.name, []
        kind = KINDS[fix.kind].label if fix.kind in KINDS else fix.kind
        lines.append(f"Request #{fix.pk}: {kind}, frames {frames_of(fix)}, by {fix.requested_by.printed_name} "
                     f"on {when(fix.created_at)} — {fix.reason} — now {fix.get_state_display().lower()}")
        for job in sorted(fix.jobs.all(), key=lambda j: j.pk):
            device = f" on {job.device}" if job.device else ""
            lines.append(f"    → Job #{job.pk}: {job.get_state_display().lower()}{device}, picked up "
                         f"{job.deliveries}×{(' — ' + job.error) if job.error else ''}")
        proposal = getattr(fix, "proposal", None)
        if proposal is None:
            continue
        lines.append(f"        → Proposal v{proposal.version.number:03d}: {proposal.get_state_display().lower()}, "
                     f"media sha256 {proposal.media_sha256}, QC {qc_verdict(proposal.model_card)}")
        for decision in proposal.decisions.all():
            lines.append(f"            → {decision.get_outcome_display()} by {decision.printed_name} "
                         f"({decision.role}) on {when(decision.signed_at)}"
                         + (f" — {decision.reason}" if decision.reason else ""))
        if proposal.delivery_version_id:
            lines.append(f"                → Delivered as v{proposal.delivery_version.number:03d}")
    if lines:
        yield shot, lines


def _consents(request):
    from answerprint.fixes.models import Consent

    consents = Consent.objects.prefetch_related("shots").order_by("performer", "signed_at")
    if request.production is not None:
        consents = consents.filter(production=request.production)
    return list(consents)


# --- Gaps in the sequence ------------------------------------------------------------------------

class GapExplainer:
    """Says why the numbers between two listed events are missing: another production's, system-wide
    (no production), or this scope's but outside the filters. Walks (sequence, production) once."""

    def __init__(self, request, up_to: int):
        self.production_id = request.production.pk if request.production is not None else None
        self.up_to = up_to
        self._rows = None
        self._pending = None

    def between(self, previous: int | None, current: int) -> str:
        if previous is None or current == previous + 1:
            return ""
        if self._rows is None:
            self._rows = (AuditEvent.objects.filter(sequence__gt=previous, sequence__lte=self.up_to)
                          .order_by("sequence").values_list("sequence", "production_id").iterator(chunk_size=5000))
        other = system = filtered = 0
        row = self._pending or next(self._rows, None)
        while row is not None and row[0] < current:
            if row[0] > previous:
                if self.production_id is not None and row[1] is None:
                    system += 1
                elif self.production_id is not None and row[1] != self.production_id:
                    other += 1
                else:
                    filtered += 1
            row = next(self._rows, None)
        self._pending = row
        count = current - previous - 1
        span = f"#{previous + 1}" if count == 1 else f"#{previous + 1}–#{current - 1}"
        what = "; ".join(f"{n} {text}" for n, text in (
            (other, "belong to another production"), (system, "are system-wide (no production)"),
            (filtered, "are filtered out (they do not match this report's filters)")) if n)
        return f"{span}: {count} event{'s' if count != 1 else ''} not listed — {what or 'not in the database'}."


# --- The document --------------------------------------------------------------------------------

def event_lines(record: dict) -> list[tuple[str, Style, float]]:
    """(text, style, indent) lines of one event, as the log prints it."""
    from .exports import signature_text

    who = (record["actor_name"] or "system") + (f" ({record['actor_role']})" if record["actor_role"] else "")
    lines = [(f"#{record['sequence']}  {when(record['occurred_at'])}  {who}  {record['action']}  "
              f"{record['target_repr']}", BOLD, 0.0)]
    if record["reason"]:
        lines.append((f"Reason: {record['reason']}", BODY, 14.0))
    lines += [(line, SMALL, 14.0) for line in readable_changes(record["before"], record["after"])]
    signature = signature_text(record["after"])
    if signature:
        lines.append((signature, Style(size=8, bold=True), 14.0))
    lines.append((f"event sha256 {record['hash']}", GREY, 14.0))
    return lines


def write_event_log(pdf: PDFWriter, records: Iterable, gaps: GapExplainer | None, saw=None) -> Iterator[bytes]:
    """Print the log; yield the bytes of each finished page as they come."""
    previous = None
    for kind, record, _ in records:
        if saw is not None:
            saw(kind, record)
        if kind == "event":
            explained = gaps.between(previous, record["sequence"]) if gaps is not None else ""
            if explained:
                pdf.paragraph(explained, Style(size=7.5, grey=0.35), indent=14.0)
            previous = record["sequence"]
            pdf.need(24)
            for text, style, indent in event_lines(record):
                pdf.paragraph(text, style, indent=indent, after=0.5)
            pdf.y -= 3
        else:
            payload = json.loads(record["payload"])
            stamp = "with an RFC 3161 timestamp" if record.get("timestamp_token") else "no timestamp token"
            pdf.paragraph(f"Checkpoint {record['number']} signed: events #{record['first_sequence']}–"
                          f"#{record['last_sequence']}, Merkle root {payload['root']}, key {record['key_id']}, "
                          f"{stamp}.", Style(size=7.5, bold=True, grey=0.25), after=4)
        chunk = pdf.take()
        if chunk:
            yield chunk


def _header(title: str, digest_holder):
    def draw(pdf: PDFWriter) -> None:
        pdf.draw_text(title, MARGIN, HEADER_Y, GREY)
        label = "events sha256 "
        digest_at = MARGIN + BODY_WIDTH - pdf.text_width("0" * 64, GREY)
        pdf.draw_text(label, digest_at - pdf.text_width(label, GREY), HEADER_Y, GREY)
        pdf.draw_placeholder(digest_holder, digest_at, HEADER_Y)
        pdf.rule(MARGIN, HEADER_Y - 4, MARGIN + BODY_WIDTH, HEADER_Y - 4, grey=0.7, width=0.4)
    return draw


def _summary(pdf: PDFWriter, request, up_to: int) -> None:
    from answerprint.fixes.models import Outcome

    from .selectors import timestamp_of

    events = request.events.filter(sequence__lte=up_to)
    pdf.heading("Summary")
    by_action = list(events.values("action").annotate(n=Count("id")).order_by("-n", "action"))
    by_actor = list(events.values("actor_name", "actor_role").annotate(n=Count("id")).order_by("-n", "actor_name"))
    pdf.paragraph(f"{sum(r['n'] for r in by_action)} events listed.", BODY)
    pdf.table([("Action", 0.7), ("Events", 0.3)], [(r["action"], r["n"]) for r in by_action])
    pdf.table([("Who", 0.5), ("Role", 0.25), ("Events", 0.25)],
              [(r["actor_name"] or "system", r["actor_role"] or "—", r["n"]) for r in by_actor])
    outcomes = dict(_decisions(request).order_by().values_list("outcome").annotate(n=Count("id")))
    pdf.table([("Decisions by outcome", 0.7), ("Count", 0.3)],
              [(label, outcomes.get(value, 0)) for value, label in Outcome.choices])
    consents = _consents(request)
    in_force = [c for c in consents if c.status == "in force"]
    revoked = [c for c in consents if c.status == "revoked"]
    pdf.paragraph(f"Consents: {len(in_force)} in force, {len(revoked)} revoked, "
                  f"{len(consents) - len(in_force) - len(revoked)} expired or not yet in force.", BOLD)
    if consents:
        pdf.table([("Performer", 0.2), ("Type", 0.2), ("Scope", 0.3), ("Signed", 0.15), ("Status", 0.15)],
                  [(c.performer, c.get_consent_type_display(), c.scope, when(c.signed_at),
                    c.status + (f" ({c.revocation_reason})" if c.revocation_reason else "")) for c in consents])
    checkpoints = Checkpoint.objects.filter(last_sequence__lte=up_to)
    facts = checkpoints.aggregate(n=Count("id"), last=Max("number"), stamped=Count("timestamp_token"))
    latest = checkpoints.order_by("-number").first()
    keys = sorted(set(checkpoints.values_list("key_id", flat=True)))
    stamp = timestamp_of(latest)
    pdf.paragraph(f"Signed checkpoints: {facts['n']} (latest number {facts['last'] or '—'}), signed with key(s) "
                  f"{', '.join(keys) or '—'}; {facts['stamped']} carry an RFC 3161 timestamp token"
                  + (f"; the latest from {stamp[0]} at {when(stamp[1])}." if stamp else
                     "; no timestamp authority vouches for the latest." if latest else "."), BODY)


def _listed(signed: dict) -> str:
    if not signed["event_count"]:
        return "no events listed"
    return f"{signed['event_count']} events listed, #{signed['first_sequence']} to #{signed['last_sequence']}"


def audit_report_chunks(request, up_to: int, actor_name: str) -> Iterator[bytes]:
    """The report as PDF/A-2b bytes, in pieces, with the verification manifest of `exports`."""
    from .exports import Manifest, export_records

    production = request.production
    scope = production.title if production is not None else "All productions"
    title = f"Audit report — {scope}"
    manifest = Manifest(request, up_to, actor_name)
    pdf = PDFWriter(title, subject="Audit trail, signatures and decisions", author=actor_name)
    digest = pdf.placeholder("Digest", GREY)
    pdf.header = _header(title, digest)
    cover_manifest = pdf.placeholder("Manifest", Style(size=8), lines=6)

    pdf.paragraph(title, Style(size=20, bold=True), after=10)
    span = request.events.filter(sequence__lte=up_to).aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    shown_filters = ", ".join(f"{k}: {v}" for k, v in request.filters.items()) or "none (the whole log)"
    facts = [
        ("Production", f"{production.title} ({production.code})" if production is not None else scope),
        ("Filters", shown_filters),
        ("Period", f"{when(request.since or span['first'])} to {when(request.until or span['last'])}"),
        ("Generated by", actor_name),
        ("Why", request.reason or "no reason given"),
        ("Generated at", when(timezone.now())),
        ("Covers", f"every event up to #{up_to}, this report's own export event included"),
    ]
    pdf.table([("", 0.22), ("", 0.78)], facts, style=BODY, header=False)
    pdf.heading("Verification", size=11)
    pdf.need(60)
    pdf.draw_placeholder(cover_manifest, MARGIN, pdf.y - 10)
    pdf.y -= 60
    pdf.paragraph(OFFLINE_CHECK, SMALL)

    pdf.new_page()
    _summary(pdf, request, up_to)

    pdf.heading("Signature manifestations (21 CFR 11.50)")
    pdf.paragraph("Every signature: the signer's printed name, the date and time with its zone, the meaning of the "
                  "signature, exactly what was signed (the record hash binds the proposal's media and model card), "
                  "and the QC verdict the proposal carried when it was signed.", SMALL)
    rows = signature_rows(request)
    if rows:
        pdf.table([("Printed name", 0.17), ("Signed", 0.14), ("Meaning", 0.12), ("What was signed", 0.37),
                   ("QC verdict at signing", 0.2)], rows)
    else:
        pdf.paragraph("No signatures in this scope.", BODY)

    pdf.heading("Decisions and their lineage")
    pdf.paragraph("Per shot: each fix request, the jobs that ran it, the proposal it made, the decisions on it and "
                  "its delivery.", SMALL)
    any_lineage = False
    for shot, lines in _lineage(request):
        any_lineage = True
        pdf.paragraph(shot, BOLD, after=1)
        for line in lines:
            depth = len(line) - len(line.lstrip(" "))
            pdf.paragraph(line.strip(), SMALL, indent=6.0 + depth * 2.0, after=0.5)
        yield pdf.take()
    if not any_lineage:
        pdf.paragraph("No fix requests in this scope.", BODY)

    pdf.new_page()
    pdf.heading("Event log")
    pdf.paragraph("Each entry: sequence, time, who (role), action and target; the reason; each changed field as "
                  "before → after; any signature; the entry's hash. Missing numbers are explained where they occur.",
                  SMALL)
    gaps = GapExplainer(request, up_to) if request.filtered else None
    yield from write_event_log(pdf, export_records(request, up_to), gaps, saw=manifest.saw)

    signed = manifest.signed(with_content_digest=False)
    pdf.heading("Verification manifest")
    covered = (f"Events from #{signed['uncovered_from']} on are not yet covered by a signed checkpoint: the next "
               f"checkpoint (every few minutes) will cover them." if signed["uncovered_from"] else
               "Every listed event is covered by a signed checkpoint.")
    pdf.paragraph(f"{_listed(signed)}, {signed['checkpoint_count']} signed checkpoints. {covered}", BODY)
    for key in ("events_sha256", "public_key", "key_id", "signature"):
        pdf.paragraph(f"{key}: {signed[key]}", SMALL)
    manifest_text = (f"events sha256: {signed['events_sha256']}\n"
                     f"manifest signed by key {signed['key_id']}\n"
                     f"public key: {signed['public_key']}\n"
                     f"{_listed(signed)}; {signed['checkpoint_count']} signed checkpoints")
    yield pdf.close({"Digest": signed["events_sha256"], "Manifest": manifest_text})
