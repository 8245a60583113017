from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.views.decorators.http import require_http_methods
from django.db.models import Count, Q
from django.shortcuts import redirect, render

from . import mfa
from .forms import LoginForm
from .models import Membership


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if any(error.code == "locked_out" for error in form.non_field_errors().as_data()):
            response.status_code = 429  # tools see the lock without reading the page
        return response


@login_required
def production_list(request):
    memberships = (
        Membership.objects.active()
        .filter(user=request.user, production__archived_at__isnull=True)
        .select_related("production")
        .annotate(shot_count=Count("production__shots", distinct=True),
                  waiting=Count("production__shots", filter=Q(production__shots__status="in_review"), distinct=True))
        .order_by("production__title")
    )
    return render(request, "accounts/production_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def two_step(request):
    """Set up, see and reset the authenticator that signing asks for."""
    user, context = request.user, {}
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "start":
            mfa.start_enrolment(user)
        elif action == "confirm":
            context["recovery_codes"] = mfa.confirm_enrolment(user, request.POST.get("code", ""))
            messages.success(request, "Two-step sign-in is on: signing now asks for a code from your authenticator.")
        elif action == "reset":
            mfa.reset_second_factor(user=user, password=request.POST.get("password", ""),
                                    code=request.POST.get("code", ""), reason=request.POST.get("reason", ""))
            messages.success(request, "Your authenticator was removed. Set up a new one before you sign again.")
            return redirect("two-step")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    device = user.totp_device if hasattr(user, "totp_device") else None
    if device is not None and device.confirmed_at is None:
        context.update(enrolling=True, qr_svg=mfa.qr_svg(device), secret=mfa.secret_for_typing(device))
    context.update(device=device if device is not None and device.confirmed_at else None,
                   codes_left=user.recovery_codes.filter(used_at__isnull=True).count())
    return render(request, "accounts/two_step.html", context)
