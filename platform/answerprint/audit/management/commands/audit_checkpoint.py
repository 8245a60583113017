"""`manage.py audit_checkpoint`: sign a checkpoint now (the scheduler does it periodically)."""
from django.core.management import BaseCommand, CommandError

from answerprint.audit.services import ChainBroken, create_checkpoint


class Command(BaseCommand):
    help = "Sign a Merkle checkpoint over the events since the last one."

    def handle(self, *args, **options):
        try:
            checkpoint = create_checkpoint()
        except ChainBroken as exc:
            raise CommandError(f"Not signed: the chain does not verify ({exc}).") from None
        if checkpoint is None:
            self.stdout.write("No new events since the last checkpoint.")
            return
        self.stdout.write(self.style.SUCCESS(
            f"Checkpoint {checkpoint.number}: events #{checkpoint.first_sequence}–#{checkpoint.last_sequence}, "
            f"root {checkpoint.root}, key {checkpoint.key_id}"))
