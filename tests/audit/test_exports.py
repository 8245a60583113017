import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from django.db import transaction

from answerprint.audit import offline_verifier
from answerprint.audit.exports import start_export
from answerprint.audit.forms import ExportFilterForm
from answerprint.audit.models import AuditEvent
from answerprint.audit.services import create_checkpoint, record_event
from answerprint.audit.signing import public_key_hex
from tests.audit.pdf_text import pdf_text
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

VERIFIER = Path(offline_verifier.__file__)
SIGNED = {"printed_name": "Ada Lovelace", "signed_at": "2026-03-04T05:06:07+00:00", "meaning": "approval",
          "record_hash": "cd" * 32}


def export(tmp_path, fmt="jsonl", production=None, actor=None, **filters):
    form = ExportFilterForm(filters, production=production)
    assert form.is_valid(), form.errors
    path = tmp_path / f"export.{fmt}"
    with open(path, "wb") as handle:
        for chunk in start_export(actor=actor, fmt=fmt, request=form.export_request(), production=production):
            handle.write(chunk)
    return path


def verify(path, *keys, options=()):
    """Run the verifier as an auditor would: the one file copied elsewhere, in an isolated Python."""
    copy = path.parent / "elsewhere" / "offline_verifier.py"
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(VERIFIER, copy)
    args = [sys.executable, "-I", str(copy), str(path)] + [a for k in keys for a in ("--public-key", k)] + list(options)
    done = subprocess.run(args, capture_output=True, text=True, cwd=copy.parent, timeout=60)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def two_productions(db):
    """A production with a signed decision among its events, another production, and checkpoints."""
    alpha, beta = ProductionFactory(code="alpha"), ProductionFactory(code="beta")
    producer = member(alpha, "producer")
    with transaction.atomic():
        for i in range(6):
            record_event(f"test.alpha{i}", actor=producer, production=alpha, after={"i": i})
            record_event(f"test.beta{i}", production=beta, after={"i": i})
            if i == 2:
                create_checkpoint()
        record_event("proposal.signed", actor=producer, production=alpha, after=SIGNED, reason="looks right")
        record_event("test.formula", actor=producer, production=alpha, reason="=HYPERLINK(\"http://x\")")
    return alpha, beta, producer


def test_an_export_of_the_whole_log_verifies_offline(two_productions, tmp_path):
    # given the whole log exported as JSON Lines
    path = export(tmp_path)

    # when the standalone verifier checks it against the published key
    code, output = verify(path, public_key_hex())

    # then every event and checkpoint verifies
    assert code == 0, output
    assert re.search(r"OK: 15 events \(#1–#15\) and 2 signed checkpoints", output)


def test_a_changed_byte_in_an_exported_event_is_named(two_productions, tmp_path):
    # given an export in which one byte of event #5's action was changed
    path = export(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    assert '"sequence":5,' in lines[4]
    lines[4] = lines[4].replace('"test.alpha2"', '"test.alpha3"', 1)
    path.write_text("".join(lines))

    # when it is verified, then event #5 is named
    code, output = verify(path, public_key_hex())
    assert code == 1
    assert "FAILED: event #5 was altered" in output


def test_a_removed_event_is_named(two_productions, tmp_path):
    # given an export from which event #8's line was removed
    path = export(tmp_path)
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if '"sequence":8,' not in line))

    # when it is verified, then event #8 is named as missing
    code, output = verify(path)
    assert code == 1 and "FAILED: event #8 is missing" in output


def test_a_rewritten_manifest_does_not_verify(two_productions, tmp_path):
    # given an export whose manifest claims fewer events
    path = export(tmp_path)
    text = path.read_text()
    assert '"event_count":15' in text
    path.write_text(text.replace('"event_count":15', '"event_count":14'))

    # when it is verified, then the manifest's signature fails
    code, output = verify(path)
    assert code == 1 and "manifest's signature does not verify" in output


def test_an_export_signed_by_another_key_is_refused(two_productions, tmp_path):
    # given an intact export, when it is checked against a key that did not sign it
    path = export(tmp_path)
    code, output = verify(path, "11" * 32)

    # then it is refused
    assert code == 1 and "which you do not trust" in output


def test_a_production_export_leaves_other_productions_out_and_still_proves_the_checkpoints(two_productions,
                                                                                          tmp_path):
    # given alpha's events interleaved with beta's
    alpha, beta, producer = two_productions

    # when alpha's log is exported
    path = export(tmp_path, production=alpha, actor=producer)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    events = [r for r in records if r["record"] == "event"]

    # then only alpha's events are in it, with the subtree hashes that stand for beta's
    assert {e["production_id"] for e in events} == {alpha.pk}
    assert not any("beta" in e["action"] for e in events)
    assert any(e.get("merkle_gaps") for e in events)
    code, output = verify(path, public_key_hex())
    assert code == 0, output
    assert records[-1]["filters"] == {"production": "alpha"} and records[-1]["filtered"] is True


def test_an_event_removed_from_a_filtered_export_is_caught(two_productions, tmp_path):
    # given alpha's export with its event #3 removed
    alpha, _, producer = two_productions
    path = export(tmp_path, production=alpha, actor=producer)
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if '"sequence":3,' not in line))

    # when it is verified, then the gap where it stood is named
    code, output = verify(path)
    assert code == 1 and "#3" in output.splitlines()[1]


def test_the_export_is_itself_an_audit_event(two_productions, tmp_path):
    # given a producer exporting alpha's signatures
    alpha, _, producer = two_productions

    # when the export is made
    path = export(tmp_path, production=alpha, actor=producer, action="proposal.")

    # then the export is on the record with its format and filters, and covered by a checkpoint
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.actor == producer and event.production == alpha
    assert event.after == {"format": "jsonl", "filters": {"production": "alpha", "action": "proposal."}}
    manifest = json.loads(path.read_text().splitlines()[-1])
    assert manifest["up_to_sequence"] == event.sequence and manifest["uncovered_from"] is None


def test_a_csv_export_shows_signatures_and_defuses_formulas_and_verifies(two_productions, tmp_path):
    # given the whole log as CSV
    path = export(tmp_path, fmt="csv")
    text = path.read_text()

    # then the signature is printed with name, time and meaning, a formula is neutralised
    assert "Signed by Ada Lovelace at 2026-03-04 05:06:07 UTC — meaning: approval — sha256 " in text
    assert "'=HYPERLINK" in text
    # and the file verifies offline
    code, output = verify(path, public_key_hex())
    assert code == 0, output


def test_a_changed_byte_in_a_csv_export_is_named(two_productions, tmp_path):
    # given a CSV export whose signature's meaning was changed
    path = export(tmp_path, fmt="csv")
    data = path.read_bytes()
    assert data.count(b'""meaning"":""approval""') == 1
    path.write_bytes(data.replace(b'""meaning"":""approval""', b'""meaning"":""approvaL""'))

    # when it is verified, then the signed event is named
    code, output = verify(path)
    assert code == 1 and "FAILED: event #13 was altered" in output


def test_a_shot_filter_finds_events_about_the_shots_versions(db, tmp_path):
    # given events about a shot, about one of its versions, and about another shot
    production = ProductionFactory()
    shot, other = ShotFactory(production=production), ShotFactory(production=production)
    version = VersionFactory(shot=shot)
    with transaction.atomic():
        record_event("test.shot", production=production, target=shot)
        record_event("test.version", production=production, target=version)
        record_event("test.other", production=production, target=other)

    # when the log is filtered by the shot
    form = ExportFilterForm({"shot": shot.name}, production=production)
    assert form.is_valid()

    # then the shot's and its version's events are found, not the other shot's
    assert [e.action for e in form.events()] == ["test.shot", "test.version"]


def test_an_unknown_shot_is_a_clear_error(db):
    production = ProductionFactory()
    form = ExportFilterForm({"shot": "SC999_SH999"}, production=production)
    assert not form.is_valid()
    assert "No shot named 'SC999_SH999'" in form.errors["shot"][0]


def test_a_pdf_report_is_well_formed_and_prints_signatures(two_productions, tmp_path):
    # given a PDF report of the whole log
    path = export(tmp_path, fmt="pdf")

    # then it is a PDF that qpdf reads without a warning, showing the signature and the manifest
    with pikepdf.open(path) as pdf:
        assert pdf.check_pdf_syntax() == []
    text = pdf_text(path)
    assert "Signed by Ada Lovelace at 2026-03-04 05:06:07 UTC — meaning: approval" in text
    assert "Verification manifest" in text and "events_sha256" in text


def test_the_pdf_manifest_matches_the_jsonl_export_with_the_same_filters(two_productions, tmp_path):
    # given a PDF and a JSON Lines export of alpha's events
    alpha, _, producer = two_productions
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pdf = pdf_text(export(tmp_path / "a", fmt="pdf", production=alpha, actor=producer))

    # when the events digest printed in the PDF is compared with the JSON Lines manifest's
    printed = re.search(r"events_sha256: ([0-9a-f]{64})", pdf).group(1)
    jsonl = export(tmp_path / "b", production=alpha, actor=producer)
    manifest = json.loads(jsonl.read_text().splitlines()[-1])

    # then they cover the same events, up to the PDF export's own event which only the later export holds
    events = [json.loads(line) for line in jsonl.read_text().splitlines()[:-1]]
    hashes = [e["hash"] for e in events if e["record"] == "event" and e["sequence"] <= manifest["up_to_sequence"] - 1]
    assert printed == hashlib.sha256("".join(h + "\n" for h in hashes).encode()).hexdigest()


def test_a_pdf_given_to_the_verifier_is_explained(two_productions, tmp_path):
    path = export(tmp_path, fmt="pdf")
    code, output = verify(path)
    assert code == 2 and "PDF report is for people" in output
