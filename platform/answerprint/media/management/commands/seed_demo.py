"""Create the demo production through the same services a person's clicks go through.

Idempotent: what already exists is left as it is (also when someone has changed it since), so
a second run creates nothing, records no audit event and prints the same log-ins. A run that
stopped half-way is finished by the next one: a shot without a version gets its plate then.
"""
import contextlib
import posixpath
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import BaseCommand
from django.db import transaction

from answerprint.accounts.models import Membership, Production, Role
from answerprint.accounts.services import add_member, create_production
from answerprint.audit.services import record_event
from answerprint.media import demo_footage, services
from answerprint.media.models import AssetStatus, MediaAsset, Shot
from answerprint.media.storage import production_root

PRODUCTION_CODE = "demo"
PRODUCTION_TITLE = "The Answer Print — demo"
PRODUCTION_DESCRIPTION = (
    "A short film's worth of plates that need the fixes Answerprint proposes: a boom in shot, "
    "exposure flicker, a shot graded unlike its neighbour, a green-screen shot, and a performer's "
    "close-up that nothing may alter without her consent."
)
DEMO_PASSWORD = "answerprint-demo"
ADMIN = {"username": "admin", "full_name": "Ada Adeyemi", "title": "Administrator"}
# One person per role, with the printed names their signatures will show.
MEMBERS = [
    {"username": "producer", "full_name": "Priya Raman", "role": Role.PRODUCER, "title": "Producer"},
    {"username": "supervisor", "full_name": "Sam Okafor", "role": Role.SUPERVISOR, "title": "VFX supervisor"},
    {"username": "editor", "full_name": "Elena Petrova", "role": Role.EDITOR, "title": "Editor"},
    {"username": "compliance", "full_name": "Chris Lindqvist", "role": Role.COMPLIANCE, "title": "Compliance"},
    {"username": "viewer", "full_name": "Vic Moreau", "role": Role.VIEWER, "title": "Viewer (studio)"},
]


@transaction.atomic
def ensure_user(*, actor, username, full_name, superuser=False):
    """The demo user `username`, created (and audited) if missing; returns (user, created)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    email = f"{username}@demo.answerprint.example"
    if superuser:
        user = User.objects.create_superuser(username=username, email=email, password=DEMO_PASSWORD,
                                             full_name=full_name)
    else:
        user = User.objects.create_user(username=username, email=email, password=DEMO_PASSWORD, full_name=full_name)
    # Never the password: who the account is and what it may do.
    record_event("user.created", actor=actor, target=user, reason="Demo account",
                 after={"username": username, "full_name": full_name, "email": email, "is_superuser": superuser})
    return user, True


class Command(BaseCommand):
    help = ("Create the demo production 'demo' with its people and generated footage, through the real "
            "ingest path. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--process-now", action="store_true",
                            help="Ingest (probe, proxy, poster, filmstrip) in this process instead of leaving it "
                                 "to the media worker.")
        parser.add_argument("--small", action="store_true",
                            help=f"Tiny footage ({demo_footage.SMALL.width}×{demo_footage.SMALL.height}, a few "
                                 "frames a shot), for tests.")
        parser.add_argument("--footage-dir", type=Path, default=None,
                            help="Where generated footage is cached (default: <VAR_DIR>/demo-footage).")

    def handle(self, *args, process_now=False, small=False, footage_dir=None, **options):
        footage_dir = footage_dir or Path(settings.VAR_DIR) / "demo-footage"
        size = demo_footage.SMALL if small else demo_footage.STANDARD
        created = {"users": 0, "memberships": 0, "shots": 0, "versions": 0}

        admin, new = ensure_user(actor=None, username=ADMIN["username"], full_name=ADMIN["full_name"],
                                 superuser=True)
        created["users"] += new
        people = {}
        for person in MEMBERS:
            people[person["role"]], new = ensure_user(actor=admin, username=person["username"],
                                                      full_name=person["full_name"])
            created["users"] += new

        production = Production.objects.filter(code=PRODUCTION_CODE).first()
        if production is None:
            production = create_production(actor=admin, code=PRODUCTION_CODE, title=PRODUCTION_TITLE,
                                           description=PRODUCTION_DESCRIPTION, fps_num=24, fps_den=1)
        for person in MEMBERS:
            user = people[person["role"]]
            # Only missing memberships: a role someone changed or revoked since stays as they left it.
            if not Membership.objects.filter(production=production, user=user).exists():
                add_member(actor=admin, production=production, user=user, role=person["role"],
                           reason="Demo production")
                created["memberships"] += 1

        self.stdout.write(f"Demo footage: {demo_footage.footage_folder(footage_dir, size)}")
        shots = demo_footage.generate_demo_footage(footage_dir, size)
        folder = demo_footage.footage_folder(footage_dir, size)
        # Plates arrive from editorial: the editor makes the shots and brings the media in.
        editor = people[Role.EDITOR]
        process_here = process_now
        if not process_here and _broker_unreachable_from_workers():
            self.stdout.write("Celery's broker is this process's memory, which no worker can read: ingesting here.")
            process_here = True
        new_assets = []
        with _ingest_in_this_process(process_here):
            for generated in shots:
                shot = Shot.objects.filter(production=production, name=generated.name).first()
                if shot is None:
                    shot = services.create_shot(
                        actor=editor, production=production, name=generated.name, sequence=generated.sequence,
                        first_frame=generated.first_frame, last_frame=generated.last_frame,
                        description=generated.description)
                    created["shots"] += 1
                if shot.versions.exists():
                    continue
                version = _ingest(editor, shot, generated, folder)
                created["versions"] += 1
                new_assets.append(version.asset.pk)
            if process_here:
                self._process(production, new_assets)

        self._report(created, process_here, new_assets)

    def _process(self, production, new_assets):
        # New assets, and any an earlier run left queued with no worker to take them.
        waiting = set(new_assets) | set(MediaAsset.objects.filter(
            version__shot__production=production, status=AssetStatus.QUEUED).values_list("pk", flat=True))
        for asset_id in sorted(waiting):
            asset = services.process_asset(asset_id)
            if asset is not None and asset.status == AssetStatus.FAILED:
                self.stderr.write(f"Ingest of {asset.version} failed: {asset.status_reason}")

    def _report(self, created, process_here, new_assets):
        made = ", ".join(f"{count} {what}" for what, count in created.items())
        self.stdout.write(self.style.SUCCESS(f"Demo production '{PRODUCTION_CODE}': created {made}."))
        if new_assets and not process_here:
            self.stdout.write("Ingest of the new plates is queued for the media worker.")
        self.stdout.write(f"\nDemo log-ins (password {DEMO_PASSWORD!r} for all):")
        User = get_user_model()
        for person in [ADMIN, *MEMBERS]:
            user = User.objects.filter(username=person["username"]).first()
            name = user.printed_name if user else person["full_name"]
            self.stdout.write(f"  {person['username']:<11} {name:<18} {person['title']}")


def _ingest(editor, shot, generated, folder):
    note = f"Generated demo plate ({generated.container}, {generated.fps_num}/{generated.fps_den} fps)."
    if generated.is_sequence:
        return services.register_media(actor=editor, shot=shot, path=_deliver_sequence(shot, generated, folder),
                                       note=note)
    path = folder / generated.path
    with path.open("rb") as handle:
        return services.ingest_upload(actor=editor, shot=shot, uploaded_file=File(handle, name=path.name), note=note)


def _deliver_sequence(shot, generated, folder):
    """Copy an image sequence into the production's incoming folder, where a vendor's delivery
    would land; return its pattern relative to the production's media folder, as register takes it."""
    pattern = posixpath.join("incoming", shot.name, posixpath.basename(generated.path))
    for number in range(generated.first_frame, generated.last_frame + 1):
        name = f"{production_root(shot.production)}/{pattern % number}"
        # A copy left by a run that stopped before registering: replace it, never keep a renamed twin.
        if default_storage.exists(name):
            default_storage.delete(name)
        with (folder / (generated.path % number)).open("rb") as frame:
            default_storage.save(name, File(frame, name=posixpath.basename(name)))
    return pattern


def _broker_unreachable_from_workers():
    """True when queued tasks can reach no worker: Celery's broker is this process's memory."""
    from answerprint.celery import app

    return str(app.conf.broker_url or "").startswith("memory")


@contextlib.contextmanager
def _ingest_in_this_process(enabled):
    """While enabled, the ingest task each upload queues on commit runs here instead of on a broker."""
    if not enabled:
        yield
        return
    from answerprint.celery import tasks_run_here

    with tasks_run_here():
        yield
