"""The inbox (a person's notifications across their productions, and what they want sent) and
the playlist pages (review sessions: build one, present it live, see where each item stands)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from answerprint.accounts.models import Membership
from answerprint.accounts.permissions import can, require
from answerprint.accounts.selectors import production_and_membership
from answerprint.errors import error_text
from answerprint.media.models import Version, VersionState
from answerprint.media.selectors import is_approved, is_rejected, versions_of
from answerprint.media.views import shot_context

from . import selectors, services
from .models import ReviewSessionItem

from .models import Notification, NotificationKind, NotificationPreference

PAGE_SIZE = 100


def _visible(user):
    """Notifications of productions the user still belongs to."""
    productions = Membership.objects.active().filter(user=user).values("production_id")
    return Notification.objects.filter(recipient=user, production_id__in=productions).select_related("production")


@login_required
@require_GET
def inbox(request):
    preferences = {p.kind: p for p in NotificationPreference.objects.filter(user=request.user)}
    kinds = [{"kind": value, "label": label,
              "in_app": preferences[value].in_app if value in preferences else True,
              "email": preferences[value].email if value in preferences else True}
             for value, label in NotificationKind.choices]
    return render(request, "review/inbox.html", {
        "notifications": _visible(request.user)[:PAGE_SIZE], "kinds": kinds, "has_email": bool(request.user.email)})


@login_required
@require_GET
def open_notification(request, notification_id):
    """Mark it read and go where it points."""
    notification = get_object_or_404(_visible(request.user), pk=notification_id)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk).update(read_at=timezone.now())
    url = notification.url if url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None) else "/"
    return redirect(url)


@login_required
@require_POST
def read_all(request):
    count = _visible(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("inbox")


@login_required
@require_POST
def save_preferences(request):
    for value, _label in NotificationKind.choices:
        NotificationPreference.objects.update_or_create(
            user=request.user, kind=value,
            defaults={"in_app": f"{value}.in_app" in request.POST, "email": f"{value}.email" in request.POST})
    messages.success(request, "Your notification settings are saved.")
    return redirect("inbox")


# ---------------------------------------------------------------- playlists


def _item_status(version):
    """Where a playlist item stands, in a word."""
    if version.state != VersionState.READY:
        return version.get_state_display()
    if is_approved(version):
        return "Approved"
    if is_rejected(version):
        return version.proposal.get_state_display()
    if version.kind == "proposal":
        return "Awaiting decision"
    return "Ready"


def _items(session):
    items = list(ReviewSessionItem.objects.filter(session=session).order_by("position").select_related(
        "version__shot", "version__asset", "version__proposal").annotate(
        open_notes=Count("version__review_comments", filter=Q(version__review_comments__deleted_at__isnull=True,
                                                             version__review_comments__resolved_at__isnull=True,
                                                             version__review_comments__parent__isnull=True))))
    for item in items:
        item.status = _item_status(item.version)
    return items


@login_required
def playlists(request, code):
    production, membership = production_and_membership(request.user, code)
    choices = (Version.objects.filter(shot__production=production, state=VersionState.READY)
               .select_related("shot").order_by("shot__name", "-number"))
    if request.method == "POST":
        require(membership, "annotate")
        try:
            session = services.create_review_session(
                actor=request.user, production=production, title=request.POST.get("title", ""),
                version_ids=[int(pk) for pk in request.POST.getlist("versions") if pk.isdigit()])
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            return redirect("playlist", code=code, session_id=session.pk)
    elif request.method != "GET":
        return redirect("playlists", code=code)
    sessions = list(selectors.sessions_of(production))
    return render(request, "review/playlists.html", {
        "production": production, "membership": membership, "sessions": sessions, "choices": choices,
        "can_build": can(membership, "annotate"), "values": request.POST if request.method == "POST" else {},
        "chosen": request.POST.getlist("versions") if request.method == "POST" else []},
        status=400 if request.method == "POST" else 200)


@login_required
@require_GET
def playlist(request, code, session_id):
    """The session's current item on the review page, in the session's room: the presenter's
    choice of item and playhead reach everyone following."""
    production, membership = production_and_membership(request.user, code)
    session = selectors.sessions_of(production).filter(pk=session_id).first()
    if session is None:
        raise Http404("No such playlist.")
    items = _items(session)
    if not items:
        raise Http404("This playlist is empty.")
    wanted = request.GET.get("item", "")
    current = next((item for item in items if str(item.version_id) == wanted), items[0])
    shot = current.version.shot
    context = shot_context(request, production, membership, shot, list(versions_of(shot)), current.version)
    context.update({"session": session, "items": items, "current_item": current,
                    "room_path": f"/ws/review/sessions/{session.pk}/"})
    return render(request, "media/shot.html", context)
