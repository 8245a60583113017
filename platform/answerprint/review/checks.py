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


@checks.register()
def check_channel_layer_timeouts(app_configs, **kwargs):
    """A socket timeout that is not longer than channels-redis's blocking read makes every quiet
    room raise TimeoutError: connections close with 1011 and the room hub stops receiving."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    if layer.get("BACKEND") != "channels_redis.core.RedisChannelLayer":
        return []
    from channels_redis.core import RedisChannelLayer

    errors = []
    for host in layer.get("CONFIG", {}).get("hosts", []):
        timeout = host.get("socket_timeout") if isinstance(host, dict) else None
        if timeout is None or timeout <= RedisChannelLayer.brpop_timeout + 1:
            errors.append(checks.Error(
                f"The channel layer's socket_timeout ({timeout}) must exceed channels-redis's blocking read "
                f"({RedisChannelLayer.brpop_timeout} s) by more than a second.",
                hint="Set CHANNEL_LAYER_SOCKET_TIMEOUT (default 15).", id="review.E002"))
    return errors
