"""Reads of the delivery app: the notes of a production, a playlist or a shot as a cut, and packages."""
from fractions import Fraction
from pathlib import PurePosixPath

from django.db.models import Prefetch
from django.http import Http404

from answerprint.fixes.models import FixRequest, Outcome, Proposal, ProposalState
from answerprint.media.models import Shot, Version, VersionKind
from answerprint.media.timecode import timecode_to_frames
from answerprint.review.models import Comment

from . import notes
from .models import DeliveryPackage, PackageState

_DECIDED = {ProposalState.APPROVED: "approved", ProposalState.REJECTED: "rejected",
            ProposalState.CHANGES_REQUESTED: "changes_requested", ProposalState.PENDING: "pending"}


def shot_frame_offset(version: Version) -> int:
    """Where a version's frame 0 sits in its shot: a proposal starts at the frames it was made for."""
    proposal = getattr(version, "proposal", None) if version.kind == VersionKind.PROPOSAL else None
    return proposal.first_frame if proposal is not None else 0


def _frames(timecode: str, rate: Fraction) -> int | None:
    try:
        return timecode_to_frames(timecode, rate) if timecode else None
    except ValueError:
        return None


def notes_cut(production, *, shot_name: str = "", session=None) -> notes.Cut:
    """The notes and decisions of a whole production, one playlist (a review session) or one shot,
    placed in the editor's timeline. A shot name outside the production is a 404."""
    rate = Fraction(production.fps_num, production.fps_den)
    shots = Shot.objects.filter(production=production).order_by("sequence", "name")
    version_filter = {}
    title = production.title
    if shot_name:
        shots = shots.filter(name=shot_name)
        if not shots.exists():
            raise Http404("No such shot in this production.")
        title = f"{production.title} {shot_name}"
    if session is not None:
        version_ids = list(session.items.values_list("version_id", flat=True))
        shots = shots.filter(versions__in=version_ids).distinct()
        version_filter = {"pk__in": version_ids}
        title = f"{production.title} {session.title}"
    comments = Comment.objects.filter(deleted_at__isnull=True, frame__isnull=False).select_related("author")
    versions = Version.objects.filter(**version_filter).select_related("asset", "proposal").prefetch_related(
        Prefetch("review_comments", queryset=comments, to_attr="live_comments"))
    proposals = Proposal.objects.select_related("delivery_package__version").prefetch_related("decisions")
    if version_filter:
        proposals = proposals.filter(version__in=version_filter["pk__in"])
    shots = shots.prefetch_related(Prefetch("versions", queryset=versions, to_attr="scoped_versions"),
                                   Prefetch("fix_requests", queryset=FixRequest.objects.select_related("requested_by")),
                                   Prefetch("fix_requests__proposal", queryset=proposals))
    placed = [_shot_in_cut(shot, rate) for shot in shots]
    return notes.place(title, rate, placed)


def _shot_in_cut(shot, rate: Fraction) -> notes.ShotInCut:
    versions = shot.scoped_versions
    plates = [v for v in versions if v.kind == VersionKind.PLATE and hasattr(v, "asset")]
    plate_asset = plates[-1].asset if plates else None
    # An imported shot's timecodes are those of its cut in, `handles` frames after its frame 0.
    handles = shot.handles if shot.source_timecode_in else 0
    source_in = _frames(shot.source_timecode_in, rate)
    if source_in is None and plate_asset is not None:
        source_in = _frames(plate_asset.start_timecode, rate)
    frames = shot.frame_count or (plate_asset.frame_count if plate_asset else None) or 1
    record_in, record_out = _frames(shot.record_timecode_in, rate), _frames(shot.record_timecode_out, rate)
    cut_length = (record_out - record_in) if record_in is not None and record_out else max(frames - 2 * handles, 1)
    source_file = shot.source_name or (plate_asset.original_name if plate_asset else "")
    reel = shot.reel or (PurePosixPath(source_file).stem if source_file else shot.name)
    placed = notes.ShotInCut(name=shot.name, reel=reel, source_file=source_file,
                             source_in=(source_in or 0) - handles, frames=frames,
                             record_in=None if record_in is None else record_in - handles,
                             cut_in=handles, cut_length=cut_length)
    for version in versions:
        offset = shot_frame_offset(version)
        for comment in version.live_comments:
            placed.notes.append(notes.Note(
                frame=offset + comment.frame, duration=comment.duration, text=comment.body,
                author=comment.author.printed_name, status="resolved" if comment.resolved_at else "open"))
    for fix in shot.fix_requests.all():
        proposal = getattr(fix, "proposal", None)  # outside a playlist's versions: not prefetched, None
        if proposal is None:
            continue
        placed.notes.append(_decision_note(fix, proposal))
        package = getattr(proposal, "delivery_package", None)
        if package is not None and package.state == PackageState.READY:
            placed.delivery = {"media": f"{package.folder.rsplit('/', 1)[-1]}/{package.media_name}",
                               "frame_in": package.frame_in, "frame_out": package.frame_out,
                               "version": package.version.number, "manifest_sha256": package.manifest_sha256}
    return placed


def _decision_note(fix, proposal) -> notes.Note:
    status = _DECIDED.get(proposal.state, "pending")
    decided = [d for d in proposal.decisions.all() if d.final] or \
        [d for d in proposal.decisions.all() if d.outcome == Outcome.APPROVE]
    author = decided[-1].printed_name if decided and status != "pending" else fix.requested_by.printed_name
    reason = (decided[-1].reason if decided else "") or fix.reason
    return notes.Note(frame=proposal.first_frame, duration=fix.frame_count, author=author, status=status,
                      text=f"{fix.get_kind_display()}: {reason}")


def package_for(production, package_id: int) -> DeliveryPackage:
    """A package of this production; any other id is a 404."""
    try:
        return DeliveryPackage.objects.select_related("version__shot").get(pk=package_id, production=production)
    except DeliveryPackage.DoesNotExist:
        raise Http404("No such delivery package in this production.") from None
