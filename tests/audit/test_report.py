import gc
import hashlib
import re

import pikepdf
import pikepdf.pdfa
import psutil
import pytest
from django.db import transaction

from answerprint.accounts.models import Role
from answerprint.audit.exports import start_export
from answerprint.audit.forms import ExportFilterForm
from answerprint.audit.pdf import PDFWriter
from answerprint.audit.report import readable_changes, write_event_log
from answerprint.audit.services import record_event
from answerprint.fixes import services
from answerprint.fixes.models import Decision, Outcome
from tests.audit.pdf_text import pdf_pages, pdf_text
from tests.factories import ProductionFactory, member
from tests.fixes.conftest import MODEL_CARD, World

NAMES = {
    "Cyrillic": "Иван Петров",
    "Greek": "Δημήτρης Παπαδόπουλος",
    "CJK": "山田太郎",
    "Devanagari": "अनिल कपूर",
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def signed_production(db, tmp_path):
    """Four removals, each approved by a producer named in another script; one more rejected."""
    world = World()
    verdicts = {"Greek": "recommended", "Cyrillic": "not_recommended"}
    for script, name in NAMES.items():
        producer = member(world.production, Role.PRODUCER, user__full_name=name)
        card = {**MODEL_CARD, "qc": {"verdict": verdicts[script], "summary": f"QC on the plate ({script})."}} \
            if script in verdicts else None
        proposal = world.propose(world.removal(reason=f"Boom in frame ({script})"), tmp_path,
                                 content=f"result {script}".encode(), card=card)
        world.sign(proposal, producer, acknowledge_warning=script == "Cyrillic")
    rejected = world.propose(world.removal(reason="Marker on the wall"), tmp_path, content=b"rejected")
    services.reject_proposal(actor=world.second_producer, proposal=rejected, reason="Fill smears the wall")
    return world


def report(tmp_path, production, actor, **filters):
    form = ExportFilterForm(filters, production=production)
    assert form.is_valid(), form.errors
    path = tmp_path / "report.pdf"
    with open(path, "wb") as handle:
        for chunk in start_export(actor=actor, fmt="pdf", request=form.export_request(), production=production,
                                  reason="Guild audit, season 1"):
            handle.write(chunk)
    return path


def section(text, start, end):
    return text[text.index(start):text.index(end, text.index(start))]


def test_names_in_cyrillic_greek_cjk_and_devanagari_print_as_themselves(signed_production, tmp_path):
    # given approvals signed by people named in four scripts
    world = signed_production

    # when compliance prints the report
    text = pdf_text(report(tmp_path, world.production, world.compliance))

    # then every name reads back from the PDF as written, never as question marks
    for script, name in NAMES.items():
        assert name in text, f"the {script} name did not print"
    assert "??" not in text


def test_the_signature_table_shows_every_signature_in_the_database_and_nothing_else(signed_production, tmp_path):
    # given four approvals and one rejection
    world = signed_production

    # when the report is printed
    text = pdf_text(report(tmp_path, world.production, world.compliance))
    table = " ".join(section(text, "Signature manifestations", "Decisions and their lineage").split())
    compact = re.sub(r"\s+", "", table)

    # then each signature shows its printed name, time with zone, meaning, shot, frames and the signed hash
    signatures = Decision.objects.filter(outcome=Outcome.APPROVE).select_related("proposal__request__shot")
    assert signatures.count() == 4
    for decision in signatures:
        assert decision.printed_name in table
        assert f"{decision.signed_at:%Y-%m-%d %H:%M:%S} UTC" in table
        assert decision.record_hash in compact
    assert table.count("Approval: I approve this result for use") == 4
    assert compact.count("SC010_SH030·Rig/objectremoval·frames1001–1012") == 4
    # and the rejection is a decision, not a signature
    rejecter = Decision.objects.get(outcome=Outcome.REJECT).printed_name
    assert rejecter not in table
    # and the QC verdict is the one the card carried, or said to be missing
    assert "Recommended: QC on the plate (Greek)." in table
    warned = Decision.objects.get(printed_name=NAMES["Cyrillic"]).acknowledged_warning
    assert warned and f"Not recommended: QC on the plate (Cyrillic). — the signer acknowledged: {warned}" in table
    assert table.count("not recorded") == 2
    # and the summary counts the same decisions
    summary = " ".join(section(text, "Summary", "Signature manifestations").split())
    assert "Approve 4 Reject 1 Request changes 0" in summary


def test_the_lineage_runs_from_request_to_decision_per_shot(signed_production, tmp_path):
    world = signed_production
    text = pdf_text(report(tmp_path, world.production, world.compliance))
    lineage = section(text, "Decisions and their lineage", "Event log")
    assert "SC010_SH030" in lineage
    assert lineage.count("→ Job #") == 5 and lineage.count("→ Proposal v") == 5
    assert "Reject by" in lineage and "Fill smears the wall" in lineage
    assert lineage.count("Approve by") == 4


def test_the_cover_says_who_why_and_how_to_verify_and_every_page_is_numbered(signed_production, tmp_path):
    # given a report
    world = signed_production
    pages = [" ".join(page.split()) for page in pdf_pages(report(tmp_path, world.production, world.compliance))]
    text = "\n".join(pages)

    # then the cover names the production, who generated it and why, and the digest with its key
    digest = re.search(r"events_sha256: ([0-9a-f]{64})", text).group(1)
    key_id = re.search(r"key_id: (\S+)", text).group(1)
    assert world.production.title in pages[0] and world.compliance.printed_name in pages[0]
    assert "Guild audit, season 1" in pages[0]
    assert digest in pages[0] and f"manifest signed by key {key_id}" in pages[0]
    assert "offline_verifier.py" in pages[0]
    # and every page carries "page x of y" and the digest in its running header
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert digest in page


def test_changes_read_as_before_and_after():
    # given an event's before and after
    lines = readable_changes({"state": "pending", "shot": {"name": "A"}, "gone": 1},
                             {"state": "approved", "shot": {"name": "A"}, "count": 2})

    # then each changed field reads before → after; an unchanged one is left out
    assert lines == ["state: pending → approved", "count: (not set) → 2", "gone: 1 → (removed)"]


def test_a_filtered_report_explains_every_gap_in_the_sequence(db, tmp_path):
    # given events of two productions interleaved, and alpha's own event that the filter leaves out
    alpha, beta = ProductionFactory(code="alpha"), ProductionFactory(code="beta")
    officer = member(alpha, "compliance")
    with transaction.atomic():
        record_event("test.kept", production=alpha)
        record_event("test.other", production=beta)
        record_event("test.other", production=beta)
        record_event("test.system")
        record_event("test.skipped", production=alpha)
        record_event("test.kept", production=alpha)

    # when alpha's report is printed for the action test.kept
    text = pdf_text(report(tmp_path, alpha, officer, action="test.kept"))

    # then the gap between the two listed events is explained, by kind
    assert re.search(r"4 events not listed — 2 belong to another production; 1 are system-wide \(no production\); "
                     r"1 are filtered out", re.sub(r"\s+", " ", text))
    assert "None" not in text


def test_the_report_is_pdf_a_2b(signed_production, tmp_path):
    # given a report
    world = signed_production
    path = report(tmp_path, world.production, world.compliance)

    # then pikepdf's PDF/A validator (veraPDF's rules, allowlist) approves it as PDF/A-2b
    validation = pikepdf.pdfa.validate_written(path, "2b")
    assert validation.passed, [str(finding) for finding in validation.findings]
    with pikepdf.open(path) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
        assert pdf.check_pdf_syntax() == []


def _records(count):
    for sequence in range(1, count + 1):
        digest = hashlib.sha256(str(sequence).encode()).hexdigest()  # incompressible, like real hashes
        yield "event", {
            "sequence": sequence, "occurred_at": "2026-01-01T00:00:00+00:00", "actor_name": "Иван Петров",
            "actor_role": "producer", "action": "proposal.signed", "target_repr": f"Proposal #{sequence}",
            "before": {"state": "pending"}, "after": {"state": "approved", "media_sha256": digest[::-1]},
            "reason": "", "hash": digest}, None


def test_the_event_log_of_100k_events_streams_in_memory_that_does_not_grow_with_it():
    # given the event log of a 100,000-event report, written out as it streams
    process = psutil.Process()
    resident = {}

    def sampled(records):
        for count, record in enumerate(records, start=1):
            if count in (20_000, 100_000):
                gc.collect()
                resident[count] = (process.memory_info().rss, written)
            yield record

    pdf = PDFWriter("Memory")
    written = 0
    for chunk in write_event_log(pdf, sampled(_records(100_000)), None):
        written += len(chunk)
    written += len(pdf.close())

    # then it runs to thousands of pages, while the process grew by a fraction of what it wrote
    assert pdf.page_count > 5000
    grew = resident[100_000][0] - resident[20_000][0]
    wrote = resident[100_000][1] - resident[20_000][1]
    assert wrote > 10_000_000
    assert grew < wrote / 10, f"grew {grew / 1e6:.1f} MB while writing {wrote / 1e6:.1f} MB"
