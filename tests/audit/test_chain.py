import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from answerprint.audit import tasks
from answerprint.audit.chain import link_hash

from answerprint.audit.models import AuditEvent
from answerprint.audit.protection import missing_protections
from answerprint.audit.selectors import verify_chain
from answerprint.audit.services import record_event, seal_pending
from tests.factories import ProductionFactory, UserFactory, member


@pytest.mark.django_db
def test_each_event_links_to_the_one_before():
    # given an actor in a production
    production = ProductionFactory()
    actor = member(production, "producer")

    # when three events are recorded and sealed
    ids = [record_event(f"test.step{i}", actor=actor, production=production, target=production).pk
           for i in range(3)]
    assert seal_pending() == 3
    events = list(AuditEvent.objects.filter(pk__in=ids).order_by("sequence"))

    # then they form an unbroken chain carrying the actor's printed name and role
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert events[0].actor_name == actor.printed_name and events[0].actor_role == "producer"
    report = verify_chain()
    assert report.ok and report.checked == 3


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete_on_the_log():
    # given a recorded event
    event = record_event("test.recorded", actor=UserFactory())

    # when it is updated or deleted with SQL, then the database refuses both
    for statement in (f"UPDATE audit_auditevent SET action = 'forged' WHERE id = {event.pk}",
                      f"DELETE FROM audit_auditevent WHERE id = {event.pk}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"
    assert missing_protections(connection) == []


@pytest.mark.django_db(transaction=True)
def test_an_event_is_sealed_as_its_transaction_commits_and_a_rollback_leaves_no_gap():
    # given a change that is rolled back with its event
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event("test.rolled_back")
        raise RuntimeError("the change failed")

    # when another change commits with its event
    with transaction.atomic():
        event = record_event("test.committed")
        # then, inside the transaction, the event is written but not yet chained
        assert AuditEvent.objects.get(pk=event.pk).hash is None

    # and once committed it is sealed as event #1, with no hole where the rolled-back one was
    sealed = AuditEvent.objects.get(pk=event.pk)
    assert (sealed.sequence, sealed.prev_hash) == (1, "0" * 64) and sealed.hash
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.committed"]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_writer_died_before_sealing_is_sealed_by_the_sweep():
    # given an event inserted and committed without record_event, as if its writer died
    # between commit and seal
    record_event("test.first")
    orphan = AuditEvent.objects.create(occurred_at=timezone.now(), action="test.orphan", actor_name="system",
                                       content_hash="c" * 64)

    # when the scheduled sweep runs
    sealed = tasks.seal_events()

    # then it is chained after the event before it
    assert sealed == 1
    orphan = AuditEvent.objects.get(pk=orphan.pk)
    assert orphan.sequence == 2
    assert orphan.hash == link_hash(2, AuditEvent.objects.get(sequence=1).hash, "c" * 64)


@pytest.mark.django_db
@pytest.mark.parametrize("replica", [False, True])
def test_sealing_is_the_only_update_an_event_allows(replica, request):
    if replica and connection.vendor != "postgresql":
        pytest.skip("session_replication_role is PostgreSQL's")
    # given an unsealed event (optionally in a session that asks triggers to stay quiet)
    event = record_event("test.recorded", reason="as written")
    if replica:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")

    def refused(statement):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)

    # when anything but the seal is written to it, then the database refuses: content before
    # sealing, content smuggled in with a seal, and a seal that leaves a chain column empty
    refused(f"UPDATE audit_auditevent SET reason = 'rewritten' WHERE id = {event.pk}")
    refused(f"UPDATE audit_auditevent SET reason = 'rewritten', sequence = 1, prev_hash = '{'0' * 64}', "
            f"hash = '{'a' * 64}' WHERE id = {event.pk}")
    refused(f"UPDATE audit_auditevent SET sequence = 1, hash = '{'a' * 64}' WHERE id = {event.pk}")

    # when it is sealed, then that is allowed once, and the sealed event can never change again
    assert seal_pending() == 1
    refused(f"UPDATE audit_auditevent SET hash = '{'b' * 64}' WHERE id = {event.pk}")
    refused(f"UPDATE audit_auditevent SET sequence = NULL, prev_hash = NULL, hash = NULL WHERE id = {event.pk}")
    sealed = AuditEvent.objects.get(pk=event.pk)
    assert sealed.reason == "as written" and verify_chain().ok


@pytest.mark.django_db(transaction=True)  # committed rows: no deferred FK checks pending
def test_truncate_is_refused_even_with_replication_role_replica(postgres_only):
    # given an event and a session that asks triggers to stay quiet
    record_event("test.recorded")

    # when the table is truncated, then the statement trigger still fires
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_changed_event_is_named_by_verification():
    # given a chain of five events, one of which is altered behind the triggers' back
    for i in range(5):
        record_event(f"test.step{i}")
    seal_pending()
    with connection.cursor() as cursor:
        from answerprint.audit import protection

        protection.remove(connection)
        cursor.execute("UPDATE audit_auditevent SET reason = 'rewritten' WHERE sequence = 3")
        protection.install(connection)

    # when the chain is verified
    report = verify_chain()

    # then the third event is named as the first broken link
    assert not report.ok
    assert report.broken_sequence == 3 and "altered" in report.problem


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_cannot_fork_the_chain(postgres_only):
    # given eight threads writing at once
    errors = []

    def write(n):
        try:
            for i in range(10):
                with transaction.atomic():
                    record_event(f"test.writer{n}.{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]

    # when they all append
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every event landed on one unbroken chain (verification seals what writers left to it)
    assert errors == []
    report = verify_chain()
    assert report.ok and report.checked == 80
    assert list(AuditEvent.objects.values_list("sequence", flat=True)) == list(range(1, 81))


@pytest.mark.django_db
def test_verification_notices_a_column_the_update_guard_does_not_cover():
    # given a column added to the event table without installing the protections again
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent ADD COLUMN note varchar(20)")

    # then the protection check names it: it could be changed before the event is sealed
    assert any("does not cover column note" in problem for problem in missing_protections(connection))
