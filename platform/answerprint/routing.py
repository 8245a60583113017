"""WebSocket routes. Review rooms add theirs here."""
websocket_urlpatterns = []

from answerprint.review.routing import websocket_urlpatterns as review_websocket_urlpatterns  # noqa: E402

websocket_urlpatterns += review_websocket_urlpatterns
