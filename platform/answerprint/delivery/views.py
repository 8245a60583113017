"""Pages of the delivery app: a production's delivery packages and its webhooks."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from answerprint.accounts.permissions import can, require
from answerprint.accounts.selectors import production_and_membership
from answerprint.errors import error_text

from . import webhooks
from .models import DeliveryPackage, WebhookDelivery, WebhookEndpoint, WebhookEvent

LOG_LENGTH = 50


@login_required
@require_GET
def deliveries(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "view")
    packages = DeliveryPackage.objects.filter(production=production).select_related("version__shot", "proposal__request")
    return render(request, "delivery/deliveries.html", {
        "production": production, "membership": membership, "packages": packages,
        "can_download": can(membership, "download_original")})


def _endpoint(production, endpoint_id):
    try:
        return WebhookEndpoint.objects.select_related("production").get(pk=endpoint_id, production=production)
    except WebhookEndpoint.DoesNotExist:
        raise Http404("No such webhook in this production.") from None


def _webhooks_page(request, production, membership, *, secret=None, secret_for=None, values=None, status=200):
    endpoints = WebhookEndpoint.objects.filter(production=production)
    log = WebhookDelivery.objects.filter(endpoint__production=production).select_related("endpoint")[:LOG_LENGTH]
    return render(request, "delivery/webhooks.html", {
        "production": production, "membership": membership, "endpoints": endpoints, "log": log,
        "events": WebhookEvent.choices, "secret": secret, "secret_for": secret_for, "values": values or {},
        "replay_window": webhooks.REPLAY_WINDOW_SECONDS, "signature_header": webhooks.SIGNATURE_HEADER,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "edit_production")
    if request.method == "GET":
        return _webhooks_page(request, production, membership)
    try:
        endpoint, secret = webhooks.create_endpoint(
            actor=request.user, production=production, membership=membership, url=request.POST.get("url", ""),
            events=request.POST.getlist("events"), description=request.POST.get("description", ""))
    except ValidationError as error:
        messages.error(request, error_text(error))
        return _webhooks_page(request, production, membership, values=request.POST, status=400)
    # The secret is in this response only: it is never shown again.
    return _webhooks_page(request, production, membership, secret=secret, secret_for=endpoint, status=201)


@login_required
@require_POST
def webhook_action(request, code, endpoint_id, action):
    production, membership = production_and_membership(request.user, code)
    require(membership, "edit_production")
    endpoint = _endpoint(production, endpoint_id)
    if action == "test":
        sent = webhooks.send_test(actor=request.user, endpoint=endpoint, membership=membership)
        answer = f"HTTP {sent.response_code}" if sent.response_code else sent.error
        (messages.success if sent.state == "delivered" else messages.error)(
            request, f"Test sent to {endpoint.url}: {answer}.")
    elif action == "rotate":
        secret = webhooks.rotate_secret(actor=request.user, endpoint=endpoint, membership=membership)
        return _webhooks_page(request, production, membership, secret=secret, secret_for=endpoint)
    elif action in ("enable", "disable"):
        webhooks.set_active(actor=request.user, endpoint=endpoint, membership=membership, active=action == "enable")
        messages.success(request, f"{endpoint.url} {action}d.")
    else:
        raise Http404("No such action.")
    return redirect("webhooks", code=code)
