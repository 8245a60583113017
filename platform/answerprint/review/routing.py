from django.urls import path

from .consumers import SessionRoomConsumer, VersionRoomConsumer

websocket_urlpatterns = [
    path("ws/review/versions/<int:version_id>/", VersionRoomConsumer.as_asgi()),
    path("ws/review/sessions/<uuid:session_id>/", SessionRoomConsumer.as_asgi()),
]
