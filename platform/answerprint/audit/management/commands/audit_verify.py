"""`manage.py audit_verify`: the chain, the signed checkpoints and the database protections."""
import sys

from django.core.management import BaseCommand
from django.db import connection

from answerprint.audit.protection import missing_protections
from answerprint.audit.selectors import verify_log


class Command(BaseCommand):
    help = ("Recompute every event's hash and link and every checkpoint's Merkle root and signature, "
            "and check that the database refuses changes to the audit tables. Exits 1 on any failure.")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=1,
                            help="processes to verify with (PostgreSQL; worth it where the database has cores to spare)")

    def handle(self, *args, workers, **options):
        report = verify_log(workers=max(1, workers))
        missing = missing_protections(connection)
        self.stdout.write(f"Events checked: {report.events_checked} (last #{report.last_sequence or 0})")
        self.stdout.write(f"Checkpoints checked: {report.checkpoints_checked} "
                          f"({report.timestamps_checked} with an RFC 3161 timestamp)")
        if report.uncovered_from is not None:
            self.stdout.write(f"Not yet in a checkpoint: events from #{report.uncovered_from} on")
        for problem in missing:
            self.stdout.write(self.style.ERROR(f"Protection: {problem}"))
        if not report.ok:
            self.stdout.write(self.style.ERROR(f"BROKEN: {report.problem}"))
        if report.ok and not missing:
            self.stdout.write(self.style.SUCCESS("OK: the audit log verifies and its tables are protected."))
            return
        sys.exit(1)
