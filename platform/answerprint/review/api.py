"""REST API of the review rooms: annotations, comments, review sessions and room event replay.

Writes go through the same services as the room's WebSocket messages, so a note posted by a
tool reaches everyone in the room. POST, PATCH and DELETE accept an `Idempotency-Key` header:
a retried request with the same key is applied once and answered with the first result (200
instead of 201). Every write answers with `X-Room-Sequence`, the number of the room event it
made.
"""
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from answerprint.accounts.permissions import can
from answerprint.api import ProductionScopedView, page_parameters, paginated

from . import selectors, services
from .models import Room
from .schemas import (OP_PATTERN, AnnotationChangesSerializer, AnnotationInputSerializer, AnnotationSerializer,
                      CommentEditSerializer, CommentInputSerializer, CommentRevisionSerializer, CommentSerializer,
                      CommentThreadSerializer, ReasonSerializer, ReviewSessionChangesSerializer,
                      ReviewSessionInputSerializer, ReviewSessionSerializer, RoomEventSerializer)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="1-64 of [A-Za-z0-9._:-]; a retry with the same key is applied once.")


def _op(request):
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not OP_PATTERN.match(key):
        raise ValidationError({"Idempotency-Key": "Use 1-64 letters, digits, '.', '_', ':' or '-'."})
    return key


def _input(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _written(applied, data, created=False):
    code = status.HTTP_201_CREATED if created and not applied.duplicate else status.HTTP_200_OK
    return Response(data, status=code, headers={"X-Room-Sequence": str(applied.event.sequence)})


def _paginated(view, request, items, serializer):
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _annotation_out(annotation):
    return AnnotationSerializer(selectors.annotations_of([annotation.version_id], include_deleted=True)
                                .get(pk=annotation.pk)).data


def _comment_out(comment):
    return CommentSerializer(selectors._comment_base().get(pk=comment.pk)).data


# ---------------------------------------------------------------- annotations


class AnnotationListView(APIView):
    @extend_schema(
        summary="Annotations of a version",
        parameters=[OpenApiParameter("frame", int, description="Only shapes on screen at this frame (0 = first)."),
                    OpenApiParameter("include_deleted", bool), *page_parameters()],
        responses=paginated(AnnotationSerializer))
    def get(self, request, version_id):
        version, _ = selectors.version_for(request.user, version_id)
        frame = request.query_params.get("frame")
        if frame is not None and not frame.isdigit():
            raise ValidationError({"frame": "A frame is a whole number, 0 or more."})
        items = selectors.annotations_of(
            [version.pk], include_deleted=request.query_params.get("include_deleted") in ("1", "true"),
            frame=int(frame) if frame is not None else None)
        return _paginated(self, request, items, AnnotationSerializer)

    @extend_schema(summary="Draw a shape on a version", request=AnnotationInputSerializer,
                   parameters=[IDEMPOTENCY_KEY], responses={201: AnnotationSerializer, 200: AnnotationSerializer})
    def post(self, request, version_id):
        version, _ = selectors.version_for(request.user, version_id, "annotate")
        data = _input(AnnotationInputSerializer, request)
        data.pop("version", None)
        applied = services.create_annotation(actor=request.user, version=version, op=_op(request), **data)
        return _written(applied, _annotation_out(applied.obj), created=True)


class AnnotationDetailView(APIView):
    @extend_schema(summary="One annotation", responses=AnnotationSerializer)
    def get(self, request, annotation_id):
        annotation, _ = selectors.annotation_for(request.user, annotation_id)
        return Response(AnnotationSerializer(annotation).data)

    @extend_schema(summary="Redraw, restyle or move a shape (its author only)", request=AnnotationChangesSerializer,
                   parameters=[IDEMPOTENCY_KEY], responses=AnnotationSerializer)
    def patch(self, request, annotation_id):
        annotation, _ = selectors.annotation_for(request.user, annotation_id, "annotate")
        changes = _input(AnnotationChangesSerializer, request)
        reason = changes.pop("reason", "")
        applied = services.update_annotation(actor=request.user, annotation=annotation, changes=changes,
                                             reason=reason, op=_op(request))
        return _written(applied, _annotation_out(applied.obj))

    @extend_schema(summary="Delete a shape (its author or a producer)", request=ReasonSerializer,
                   parameters=[IDEMPOTENCY_KEY, OpenApiParameter("reason", str)], responses=AnnotationSerializer)
    def delete(self, request, annotation_id):
        annotation, _ = selectors.annotation_for(request.user, annotation_id, "annotate")
        reason = _input(ReasonSerializer, request)["reason"] or request.query_params.get("reason", "")
        applied = services.delete_annotation(actor=request.user, annotation=annotation, reason=reason,
                                             op=_op(request))
        return _written(applied, _annotation_out(applied.obj))


# ---------------------------------------------------------------- comments


class CommentListView(APIView):
    @extend_schema(
        summary="Comment threads of a version",
        parameters=[OpenApiParameter("resolved", bool, description="Only resolved (true) or open (false) threads."),
                    *page_parameters()],
        responses=paginated(CommentThreadSerializer))
    def get(self, request, version_id):
        version, _ = selectors.version_for(request.user, version_id)
        resolved = request.query_params.get("resolved")
        threads = selectors.comment_threads_of(
            [version.pk], resolved=None if resolved is None else resolved in ("1", "true"))
        return _paginated(self, request, threads, CommentThreadSerializer)

    @extend_schema(summary="Comment on a version, or reply to a comment", request=CommentInputSerializer,
                   parameters=[IDEMPOTENCY_KEY], responses={201: CommentSerializer, 200: CommentSerializer})
    def post(self, request, version_id):
        version, _ = selectors.version_for(request.user, version_id, "comment")
        data = _input(CommentInputSerializer, request)
        data.pop("version", None)
        parent_id = data.pop("parent", None)
        parent = selectors.comment_for(request.user, parent_id)[0] if parent_id else None
        applied = services.create_comment(actor=request.user, version=version, parent=parent, op=_op(request),
                                          **data)
        return _written(applied, _comment_out(applied.obj), created=True)


class CommentDetailView(APIView):
    @extend_schema(summary="One comment", responses=CommentSerializer)
    def get(self, request, comment_id):
        comment, _ = selectors.comment_for(request.user, comment_id)
        return Response(_comment_out(comment))

    @extend_schema(summary="Edit a comment (its author only); the earlier text is kept",
                   request=CommentEditSerializer, parameters=[IDEMPOTENCY_KEY], responses=CommentSerializer)
    def patch(self, request, comment_id):
        comment, _ = selectors.comment_for(request.user, comment_id, "comment")
        data = _input(CommentEditSerializer, request)
        applied = services.edit_comment(actor=request.user, comment=comment, body=data["body"],
                                        reason=data["reason"], op=_op(request))
        return _written(applied, _comment_out(applied.obj))

    @extend_schema(summary="Delete a comment (its author or a producer); the text is kept",
                   request=ReasonSerializer, parameters=[IDEMPOTENCY_KEY, OpenApiParameter("reason", str)],
                   responses=CommentSerializer)
    def delete(self, request, comment_id):
        comment, _ = selectors.comment_for(request.user, comment_id, "comment")
        reason = _input(ReasonSerializer, request)["reason"] or request.query_params.get("reason", "")
        applied = services.delete_comment(actor=request.user, comment=comment, reason=reason, op=_op(request))
        return _written(applied, _comment_out(applied.obj))


class CommentResolveView(APIView):
    resolve = True

    @extend_schema(request=None, parameters=[IDEMPOTENCY_KEY], responses=CommentSerializer)
    def post(self, request, comment_id):
        comment, _ = selectors.comment_for(request.user, comment_id, "comment")
        service = services.resolve_comment if self.resolve else services.reopen_comment
        applied = service(actor=request.user, comment=comment, op=_op(request))
        return _written(applied, _comment_out(applied.obj))


class CommentReopenView(CommentResolveView):
    resolve = False


class CommentRevisionListView(APIView):
    @extend_schema(summary="Earlier texts of a comment (its author, producers and compliance)",
                   responses=CommentRevisionSerializer(many=True))
    def get(self, request, comment_id):
        comment, membership = selectors.comment_for(request.user, comment_id)
        if comment.author_id != request.user.pk and not can(membership, "view_audit"):
            raise ApiPermissionDenied("Only the author, producers and compliance read a comment's earlier texts.")
        revisions = comment.revisions.select_related("replaced_by").order_by("revision")
        return Response(CommentRevisionSerializer(revisions, many=True).data)


# ---------------------------------------------------------------- room events


ROOM_EVENTS_RESPONSE = inline_serializer("RoomEvents", {
    "room": serializers.CharField(), "last_sequence": serializers.IntegerField(),
    "events": RoomEventSerializer(many=True)})


def _room_events(request, room):
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ValidationError({"since": "The last sequence number seen, 0 or more."})
    events = selectors.room_events_after(room, int(since))
    return Response({"room": room.key, "last_sequence": Room.objects.get(pk=room.pk).last_sequence,
                     "events": RoomEventSerializer(events, many=True).data})


SINCE = OpenApiParameter("since", int, description="Events after this sequence number (at most 500).")


class VersionRoomEventsView(APIView):
    @extend_schema(summary="Stored events of a version's room after a sequence number", parameters=[SINCE],
                   responses=ROOM_EVENTS_RESPONSE)
    def get(self, request, version_id):
        version, _ = selectors.version_for(request.user, version_id)
        return _room_events(request, services.version_room(version))


# ---------------------------------------------------------------- review sessions


class ReviewSessionListView(ProductionScopedView, APIView):
    @extend_schema(summary="Review sessions of a production", parameters=page_parameters(),
                   responses=paginated(ReviewSessionSerializer))
    def get(self, request, code):
        return _paginated(self, request, selectors.sessions_of(self.production), ReviewSessionSerializer)

    @extend_schema(summary="Open a review session over a playlist of versions",
                   request=ReviewSessionInputSerializer, responses={201: ReviewSessionSerializer})
    def post(self, request, code):
        self.require("annotate")
        data = _input(ReviewSessionInputSerializer, request)
        session = services.create_review_session(actor=request.user, production=self.production,
                                                 title=data["title"], version_ids=data["versions"])
        return Response(ReviewSessionSerializer(selectors.sessions_of(self.production).get(pk=session.pk)).data,
                        status=status.HTTP_201_CREATED)


class ReviewSessionDetailView(APIView):
    @extend_schema(summary="One review session", responses=ReviewSessionSerializer)
    def get(self, request, session_id):
        session, _ = selectors.session_for(request.user, session_id)
        return Response(ReviewSessionSerializer(selectors.sessions_of(session.production).get(pk=session.pk)).data)

    @extend_schema(summary="Rename a session or change its playlist", request=ReviewSessionChangesSerializer,
                   parameters=[IDEMPOTENCY_KEY], responses=ReviewSessionSerializer)
    def patch(self, request, session_id):
        session, _ = selectors.session_for(request.user, session_id, "annotate")
        data = _input(ReviewSessionChangesSerializer, request)
        applied = services.change_review_session(actor=request.user, session=session, title=data.get("title"),
                                                 version_ids=data.get("versions"), reason=data["reason"],
                                                 op=_op(request))
        return _written(applied, ReviewSessionSerializer(
            selectors.sessions_of(session.production).get(pk=session.pk)).data)


class ReviewSessionCloseView(APIView):
    @extend_schema(summary="Close a review session", request=ReasonSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses=ReviewSessionSerializer)
    def post(self, request, session_id):
        session, _ = selectors.session_for(request.user, session_id, "annotate")
        reason = _input(ReasonSerializer, request)["reason"]
        applied = services.close_review_session(actor=request.user, session=session, reason=reason, op=_op(request))
        return _written(applied, ReviewSessionSerializer(
            selectors.sessions_of(session.production).get(pk=session.pk)).data)


class ReviewSessionRoomEventsView(APIView):
    @extend_schema(summary="Stored events of a session's room after a sequence number", parameters=[SINCE],
                   responses=ROOM_EVENTS_RESPONSE)
    def get(self, request, session_id):
        session, _ = selectors.session_for(request.user, session_id)
        return _room_events(request, services.session_room(session))


urlpatterns = [
    path("versions/<int:version_id>/annotations/", AnnotationListView.as_view(), name="api-annotation-list"),
    path("annotations/<uuid:annotation_id>/", AnnotationDetailView.as_view(), name="api-annotation-detail"),
    path("versions/<int:version_id>/comments/", CommentListView.as_view(), name="api-comment-list"),
    path("comments/<uuid:comment_id>/", CommentDetailView.as_view(), name="api-comment-detail"),
    path("comments/<uuid:comment_id>/resolve/", CommentResolveView.as_view(), name="api-comment-resolve"),
    path("comments/<uuid:comment_id>/reopen/", CommentReopenView.as_view(), name="api-comment-reopen"),
    path("comments/<uuid:comment_id>/revisions/", CommentRevisionListView.as_view(), name="api-comment-revisions"),
    path("versions/<int:version_id>/room-events/", VersionRoomEventsView.as_view(), name="api-version-room-events"),
    path("productions/<str:code>/review-sessions/", ReviewSessionListView.as_view(), name="api-review-session-list"),
    path("review-sessions/<uuid:session_id>/", ReviewSessionDetailView.as_view(), name="api-review-session-detail"),
    path("review-sessions/<uuid:session_id>/close/", ReviewSessionCloseView.as_view(),
         name="api-review-session-close"),
    path("review-sessions/<uuid:session_id>/room-events/", ReviewSessionRoomEventsView.as_view(),
         name="api-review-session-room-events"),
]
