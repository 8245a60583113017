import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from answerprint.audit import protection, tasks
from answerprint.audit.chain import merkle_root
from answerprint.audit.models import AuditEvent, Checkpoint
from answerprint.audit.protection import missing_protections
from answerprint.audit.selectors import verify_log
from answerprint.audit.services import ChainBroken, create_checkpoint, record_event, seal_pending
from answerprint.audit.signing import public_key_hex
from tests.factories import UserFactory


def record(n, prefix="test.step"):
    """n events, sealed into the chain (a test's transaction never commits, so nothing seals them)."""
    ids = [record_event(f"{prefix}{i}").pk for i in range(n)]
    seal_pending()
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("sequence"))


def behind_the_triggers(sql, params=()):
    """What an attacker with the table owner's rights could do to the sealed log: lift the
    triggers, write, restore."""
    seal_pending()
    protection.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        protection.install(connection)


@pytest.mark.django_db
def test_a_checkpoint_signs_the_merkle_root_of_the_events_since_the_last_one():
    # given five events and a checkpoint over them, then three more
    first = record(5)
    create_checkpoint()
    later = record(3, "test.later")

    # when the next checkpoint is made
    checkpoint = create_checkpoint()

    # then it covers exactly the three new events, links to the first checkpoint and verifies
    assert (checkpoint.number, checkpoint.first_sequence, checkpoint.last_sequence) == (2, 6, 8)
    assert checkpoint.root == merkle_root([e.hash for e in later])
    assert checkpoint.previous_root == merkle_root([e.hash for e in first])
    assert checkpoint.last_event_hash == later[-1].hash
    payload = json.loads(checkpoint.payload)
    assert payload["root"] == checkpoint.root and payload["leaf_count"] == 3
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex())).verify(
        bytes.fromhex(checkpoint.signature), checkpoint.payload.encode())


@pytest.mark.django_db
def test_no_checkpoint_is_made_when_nothing_happened_since_the_last():
    # given a checkpoint over every event
    record(2)
    create_checkpoint()

    # when another is asked for, then there is nothing to sign
    assert create_checkpoint() is None
    assert Checkpoint.objects.count() == 1


@pytest.mark.django_db
def test_a_scheduled_checkpoint_records_no_event_but_a_requested_one_does():
    # given some events
    record(3)

    # when the scheduler makes a checkpoint, then no event is added
    number = tasks.make_checkpoint()
    assert number == 1 and AuditEvent.objects.count() == 3

    # when a person asks for one, then their request is on the record
    record(1, "test.more")
    person = UserFactory()
    checkpoint = create_checkpoint(actor=person, reason="before the studio review")
    event = AuditEvent.objects.get(action="audit.checkpoint_created")
    assert event.actor == person and event.reason == "before the studio review"
    assert event.after["number"] == checkpoint.number == 2


@pytest.mark.django_db
def test_nothing_is_signed_over_an_altered_event():
    # given an event changed behind the triggers' back
    record(4)
    behind_the_triggers("UPDATE audit_auditevent SET reason = 'rewritten' WHERE sequence = 2")

    # when a checkpoint is asked for, then it is refused, naming the event
    with pytest.raises(ChainBroken, match="#2 was altered"):
        create_checkpoint()
    assert not Checkpoint.objects.exists()


@pytest.mark.django_db
def test_verification_checks_every_checkpoint_and_says_what_is_not_yet_covered():
    # given two checkpoints and two events after them
    record(3)
    create_checkpoint()
    record(2, "test.b")
    create_checkpoint()
    record(2, "test.c")

    # when the log is verified
    report = verify_log()

    # then every event and checkpoint verifies and the uncovered tail is named
    assert report.ok, report.problems
    assert (report.events_checked, report.checkpoints_checked, report.uncovered_from) == (7, 2, 6)


@pytest.mark.django_db
def test_a_checkpoint_whose_root_was_rewritten_is_named():
    # given a checkpoint whose stored root was replaced behind the triggers' back
    record(3)
    create_checkpoint()
    behind_the_triggers("UPDATE audit_checkpoint SET root = %s WHERE number = 1", ["ab" * 32])

    # when the log is verified, then checkpoint 1 is named
    report = verify_log()
    assert not report.ok and report.broken_checkpoint == 1
    assert "checkpoint 1" in report.problem


@pytest.mark.django_db
def test_a_checkpoint_re_signed_with_another_key_is_refused():
    # given an attacker who rewrites a checkpoint and signs it with a key of their own
    record(3)
    checkpoint = create_checkpoint()
    forger = Ed25519PrivateKey.generate()
    payload = checkpoint.payload.encode()
    forged_key = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    behind_the_triggers("UPDATE audit_checkpoint SET signature = %s, public_key = %s WHERE number = 1",
                        [forger.sign(payload).hex(), forged_key])

    # when the log is verified, then the untrusted key is named
    report = verify_log()
    assert not report.ok and "untrusted key" in report.problem


@pytest.mark.django_db
def test_an_event_removed_from_a_checkpointed_range_is_named():
    # given a checkpoint over five events, one of which is then deleted behind the triggers' back
    record(5)
    create_checkpoint()
    behind_the_triggers("DELETE FROM audit_auditevent WHERE sequence = 3")

    # when the log is verified, then the missing event is named
    report = verify_log()
    assert not report.ok and report.broken_sequence == 4
    assert "#3 is missing" in report.problem


@pytest.mark.django_db
def test_the_checkpoint_table_refuses_update_and_delete():
    # given a checkpoint
    record(2)
    checkpoint = create_checkpoint()

    # when it is updated or deleted with SQL, then the database refuses both
    for statement in (f"UPDATE audit_checkpoint SET root = 'forged' WHERE id = {checkpoint.pk}",
                      f"DELETE FROM audit_checkpoint WHERE id = {checkpoint.pk}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert Checkpoint.objects.get(pk=checkpoint.pk).root == checkpoint.root


@pytest.mark.django_db
def test_a_dropped_checkpoint_trigger_is_reported_missing():
    # given the checkpoint table's triggers removed
    protection.remove(connection, tables=[protection.CHECKPOINT_TABLE])
    try:
        # when the protections are checked, then the checkpoint table's are named
        missing = missing_protections(connection)
    finally:
        protection.install(connection)
    assert missing and all("audit_checkpoint" in problem for problem in missing)
    assert missing_protections(connection) == []


@pytest.mark.django_db(transaction=True)  # committed rows: no deferred FK checks pending
def test_postgres_refuses_every_change_to_both_tables_even_as_a_replica(postgres_only):
    # given an event and a checkpoint, committed
    record(2)
    create_checkpoint()

    # when a session that silences ordinary triggers updates, deletes or truncates either table
    for table in ("audit_auditevent", "audit_checkpoint"):
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            # then every statement is refused
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                    cursor.execute(statement)
    assert AuditEvent.objects.count() == 2 and Checkpoint.objects.count() == 1


@pytest.mark.django_db
def test_audit_verify_passes_on_an_intact_log(capsys):
    # given events and a checkpoint
    record(3)
    create_checkpoint()

    # when the command runs, then it reports success
    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out


@pytest.mark.django_db
def test_audit_verify_names_the_altered_event_and_exits_non_zero(capsys):
    # given one byte of one event changed in the table
    record(4)
    create_checkpoint()
    behind_the_triggers("UPDATE audit_auditevent SET action = 'test.steP1' WHERE sequence = 2")

    # when the command runs, then it fails naming event #2
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1
    assert "event #2 was altered" in capsys.readouterr().out


@pytest.mark.django_db
def test_audit_verify_fails_when_a_protection_is_missing(capsys):
    # given an intact log whose event table lost its triggers
    record(1)
    protection.remove(connection, tables=[protection.TABLE])
    try:
        # when the command runs, then it fails naming the protection
        with pytest.raises(SystemExit):
            call_command("audit_verify")
    finally:
        protection.install(connection)
    assert "Protection: trigger" in capsys.readouterr().out
