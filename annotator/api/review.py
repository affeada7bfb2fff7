"""API of the review queue and adjudication: reviewers and staff only (everyone else gets 403)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from annotator.models import Adjudication, Image
from annotator.permissions import CanReview, access_review, dataset_or_403
from annotator.selectors.queue_cursor import QueueCursor, cursor_dumps, cursor_loads
from annotator.selectors.review import adjudication_history, review_detail
from annotator.selectors.review_queue import (
    PAGE_SIZE,
    QUEUE_STATUSES,
    QueueFilter,
    queue_counts,
    queue_page_at,
    queue_seek,
)
from annotator.services.review import (
    ReviewError,
    adjudication_exclude,
    adjudication_revert,
    adjudication_set,
    review_request_more,
)
from config.api_errors import refused, validated
from config.authenticated import AuthenticatedRequest
from config.request_input import MAX_SQL_INT, RequestInputError, query_int
from config.text_rules import NOTE_MAX_LENGTH

DECISIONS = ["set", "exclude-bad", "exclude-ambiguous", "revert"]


class QueueOutput(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Images per status tab.")
    results = serializers.ListField(child=serializers.DictField(), help_text="Most contested first.")
    next = serializers.URLField(allow_null=True, help_text="The page after this one (by cursor); null at the end.")
    previous = serializers.URLField(allow_null=True, help_text="The page before this one; null on the first page.")
    last = serializers.URLField(help_text="The queue's last page (by cursor, read from the end).")


class ReviewDetailOutput(serializers.Serializer):
    image = serializers.DictField()
    original_label = serializers.DictField(allow_null=True)
    consensus = serializers.DictField(help_text="Status, final `labels`, `computed_labels`, adjudicated, excluded.")
    annotations = serializers.ListField(child=serializers.DictField(), help_text="Each annotator's answer.")
    classes = serializers.ListField(
        child=serializers.DictField(), help_text="Per class: answers, yes-share, DS posterior, model rank."
    )
    history = serializers.ListField(child=serializers.DictField(), help_text="Adjudications, oldest first.")


class DecisionInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=DECISIONS)
    labels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_SQL_INT),
        default=list,
        max_length=1000,
        help_text="The final label set (LabelClass ids), for `set`.",
    )
    note = serializers.CharField(allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
    client_uuid = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="Made by the client; a retry with it writes nothing."
    )


class MoreInput(serializers.Serializer):
    extra = serializers.IntegerField(default=1, min_value=1, max_value=10)
    note = serializers.CharField(allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
    client_uuid = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="Made by the client; a retry with it writes nothing."
    )


class AdjudicationOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = Adjudication
        fields = ["id", "image", "reviewer", "created_at", "action", "status_before", "status_after",
                  "labels_before", "labels_after", "note"]  # fmt: skip


def _image(image_id: int) -> Image:
    return get_object_or_404(Image.objects.select_related("dataset"), pk=image_id)


class ReviewApiView(APIView):
    permission_classes = [CanReview]


class ReviewQueueApi(ReviewApiView):
    """The dataset's review queue, most contested first, with counts per status."""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(QUEUE_STATUSES), description="Default: open."),
            OpenApiParameter("class", int, description="Only images where this class was asked about or set."),
            OpenApiParameter("annotator", int, description="Only images this user annotated."),
            OpenApiParameter(
                "cursor", str, description="From a response's `next`, `previous` or `last` link; none: the first page."
            ),
            OpenApiParameter(
                "offset", int, description="Rows to skip (instead of a cursor): walks them, so deep pages cost more."
            ),
            OpenApiParameter("limit", int, description=f"At most {PAGE_SIZE * 4}; default {PAGE_SIZE}."),
        ],
        responses=QueueOutput,
    )
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_review)
        flt = QueueFilter.parse(request.query_params)
        cursor = cursor_loads(request.query_params.get("cursor"), dataset_id=dataset.pk)
        offset = query_int(request.query_params, "offset", default=0)
        if cursor and offset:
            raise RequestInputError("give cursor or offset, not both")
        limit = query_int(request.query_params, "limit", default=PAGE_SIZE, minimum=1, maximum=PAGE_SIZE * 4)
        counts = queue_counts(dataset, flt)
        if offset:
            page = queue_page_at(dataset, flt, offset=offset, limit=limit)
        else:
            page = queue_seek(dataset, flt, cursor, total=counts[flt.status], limit=limit)
        url = remove_query_param(request.build_absolute_uri(), "offset")

        def link(to: QueueCursor | None) -> str | None:
            return replace_query_param(url, "cursor", cursor_dumps(to, dataset_id=dataset.pk)) if to else None

        links = {"next": link(page.next), "previous": link(page.previous), "last": link(QueueCursor("end"))}
        return Response(QueueOutput({"counts": counts, "results": page.rows, **links}).data)


class ImageReviewApi(ReviewApiView):
    """Everything a reviewer judges one image by: annotators' answers with names, counts, posteriors,
    original label, model proposals and the adjudication history."""

    @extend_schema(responses=ReviewDetailOutput)
    def get(self, request: Request, image_id: int) -> Response:
        return Response(ReviewDetailOutput(review_detail(_image(image_id))).data)


class AdjudicationsApi(ReviewApiView):
    """GET the image's adjudication history; POST a decision: `set` the final label set, `exclude-bad`,
    `exclude-ambiguous` (the image leaves metrics and releases) or `revert` to the computed consensus."""

    @extend_schema(responses=AdjudicationOutput(many=True))
    def get(self, request: Request, image_id: int) -> Response:
        return Response(adjudication_history(_image(image_id)))

    @extend_schema(
        request=DecisionInput,
        responses={201: AdjudicationOutput, 200: AdjudicationOutput},
        description="201 when recorded; 200 with the first decision when `client_uuid` was already used.",
    )
    def post(self, request: AuthenticatedRequest, image_id: int) -> Response:
        image = _image(image_id)
        data = validated(DecisionInput(data=request.data))
        common = {
            "image_id": image.pk, "reviewer": request.user, "note": data["note"], "client_uuid": data["client_uuid"]
        }  # fmt: skip
        action = data["action"]
        with refused(ReviewError):
            if action == "set":
                adjudication, created = adjudication_set(**common, labels=data["labels"])
            elif action == "revert":
                adjudication, created = adjudication_revert(**common)
            else:
                adjudication, created = adjudication_exclude(**common, reason=action.removeprefix("exclude-"))
        return _decided(adjudication, created)


class MoreAnnotationsApi(ReviewApiView):
    """Ask for `extra` more annotations of the image: it goes to the front of the annotation queue."""

    @extend_schema(request=MoreInput, responses={201: AdjudicationOutput, 200: AdjudicationOutput})
    def post(self, request: AuthenticatedRequest, image_id: int) -> Response:
        image = _image(image_id)
        data = validated(MoreInput(data=request.data))
        with refused(ReviewError):
            adjudication, created = review_request_more(image_id=image.pk, reviewer=request.user, **data)
        return _decided(adjudication, created)


def _decided(adjudication: Adjudication, created: bool) -> Response:
    return Response(AdjudicationOutput(adjudication).data, status=status.HTTP_201_CREATED if created else 200)
