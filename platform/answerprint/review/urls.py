from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:notification_id>/", views.open_notification, name="inbox-open"),
    path("inbox/read/", views.read_all, name="inbox-read-all"),
    path("inbox/preferences/", views.save_preferences, name="inbox-preferences"),
    path("p/<str:code>/playlists/", views.playlists, name="playlists"),
    path("p/<str:code>/playlists/<uuid:session_id>/", views.playlist, name="playlist"),
]
