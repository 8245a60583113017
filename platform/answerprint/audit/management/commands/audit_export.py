"""`manage.py audit_export`: write an export to a file, with the same filters as the pages."""
import sys

from django.core.management import BaseCommand, CommandError

from answerprint.audit.exports import start_export
from answerprint.audit.forms import ExportFilterForm


class Command(BaseCommand):
    help = "Export the audit log (JSON Lines, CSV or a PDF report) with a signed verification manifest."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv", "pdf"], default="jsonl")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--production", help="production code")
        parser.add_argument("--shot", help="shot name (needs --production)")
        parser.add_argument("--actor", help="username")
        parser.add_argument("--action", help="an action, or a prefix ending in '.' or '*'")
        parser.add_argument("--since", help="from this time (ISO 8601, UTC)")
        parser.add_argument("--until", help="before this time (ISO 8601, UTC)")
        parser.add_argument("--reason", default="", help="why the export is made (kept in the log)")

    def handle(self, *args, format, output, production, reason, **options):
        from answerprint.accounts.models import Production

        scope = None
        if production:
            scope = Production.objects.filter(code=production).first()
            if scope is None:
                raise CommandError(f"No production with code {production!r}.")
        data = {k: options[k] for k in ("shot", "actor", "action", "since", "until") if options.get(k)}
        form = ExportFilterForm(data, production=scope)
        if not form.is_valid():
            raise CommandError("; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
        chunks = start_export(actor=None, fmt=format, request=form.export_request(), production=scope,
                              reason=reason or "exported from the command line")
        target = open(output, "wb") if output else sys.stdout.buffer
        try:
            for chunk in chunks:
                target.write(chunk)
        finally:
            if output:
                target.close()
        if output:
            self.stderr.write(f"Wrote {output}")
