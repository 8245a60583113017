from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render

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
