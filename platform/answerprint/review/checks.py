"""Deployment checks `manage.py check --deploy` does not make: it never looks at WebSockets."""
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_websocket_origins(app_configs, **kwargs):
    # AllowedHostsOriginValidator lets every Origin in when ALLOWED_HOSTS holds "*", which would
    # let any web page open a review room with a visitor's session cookie.
    if not settings.DEBUG and "*" in settings.ALLOWED_HOSTS:
        return [checks.Error(
            'ALLOWED_HOSTS contains "*": review rooms would accept WebSockets from any origin.',
            hint="List the real host names in ALLOWED_HOSTS.", id="review.E001")]
    return []
