"""ASGI entry point: HTTP through Django, WebSockets through Channels' router."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from answerprint.bodylimit import RequestBodyLimit  # noqa: E402
from answerprint.origin import SameOriginValidator  # noqa: E402
from answerprint.review.middleware import TokenAuthMiddleware  # noqa: E402
from answerprint.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
