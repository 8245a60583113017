"""`manage.py delivery_verify`: check delivery packages, or any folder, against their ASC MHL manifest."""
import sys

from django.core.management import BaseCommand, CommandError

from answerprint.delivery.mhl import verify_manifest
from answerprint.delivery.models import DeliveryPackage, PackageState
from answerprint.delivery.services import verify_package


class Command(BaseCommand):
    help = ("Rehash every file of a delivery package (by id, or a folder holding ascmhl/) and compare it with "
            "the ASC MHL manifest: altered, missing and unlisted files are named. Exits 1 on any problem.")

    def add_arguments(self, parser):
        parser.add_argument("packages", nargs="*", type=int, help="package ids (default: every ready package)")
        parser.add_argument("--folder", help="a package folder on this machine, e.g. one downloaded elsewhere")

    def handle(self, *args, packages, folder, **options):
        if folder:
            checks = [(folder, verify_manifest(folder))]
        else:
            chosen = DeliveryPackage.objects.filter(state=PackageState.READY).select_related("version__shot")
            if packages:
                chosen = chosen.filter(pk__in=packages)
                if chosen.count() != len(set(packages)):
                    raise CommandError("Some of those ids are not ready delivery packages.")
            checks = [(f"package {p.pk} ({p.version})", verify_package(p)) for p in chosen]
        broken = False
        for name, result in checks:
            if result.ok:
                self.stdout.write(self.style.SUCCESS(f"OK: {name}: {result.checked} files match the manifest."))
                continue
            broken = True
            for problem in result.problems:
                self.stdout.write(self.style.ERROR(f"BROKEN: {name}: {problem}"))
        if broken:
            sys.exit(1)
