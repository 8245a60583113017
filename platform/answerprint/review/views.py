"""The inbox: a person's notifications across their productions, and what they want sent."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from answerprint.accounts.models import Membership

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
