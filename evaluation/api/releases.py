"""Release API: list and create releases, follow a build, read one, download its files, compare two."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.files import File
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset
from config.api_errors import ApiError, refused, validated
from config.authenticated import AuthenticatedRequest
from config.request_input import query_int
from evaluation.core.release_compare import KINDS
from evaluation.models import Release, ReleaseFile
from evaluation.permissions import CanUseReleases
from evaluation.selectors.releases import ready_releases, release_compare
from evaluation.services.releases import ReleaseInputError, release_create, release_storage

MAX_COMPARE_LIMIT = 1000


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single satisfiable range `bytes=N-` or `bytes=N-M`; None for anything else."""
    match = re.fullmatch(r"bytes=(\d{1,19})-(\d{0,19})", (header or "").strip())
    if match is None:
        return None
    first = int(match.group(1))
    last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    return (first, last) if first <= last else None


class LimitedReader:
    """The next `remaining` bytes of a binary file (a bounded range `bytes=N-M`); closes the file."""

    def __init__(self, handle: File, remaining: int) -> None:
        self.handle, self.remaining = handle, remaining

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.handle.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


class ReleaseFileOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ReleaseFile
        fields = ["kind", "filename", "content_type", "size", "sha256", "url"]

    def get_url(self, stored: ReleaseFile) -> str:
        return f"/api/releases/{stored.release_id}/files/{stored.kind}/"


class ReleaseOutput(serializers.ModelSerializer):
    dataset: serializers.SlugRelatedField[Dataset] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    files = ReleaseFileOutput(many=True, read_only=True)

    class Meta:
        model = Release
        fields = [
            "id", "dataset", "version", "state", "aggregation", "threshold", "min_annotations", "apply_adjudications",
            "unanswered_as_original", "ds_run", "ds_prior", "n_images", "n_labelled", "n_empty", "n_pending",
            "n_excluded", "n_adjudicated", "n_original", "n_labels", "n_votes", "n_annotators", "multi_label_share",
            "mean_agreement", "created_by", "created_at", "ready_at", "build_seconds", "files",
        ]  # fmt: skip


class ReleaseInput(serializers.Serializer):
    aggregation = serializers.ChoiceField(choices=Release.Aggregation.choices, required=False)
    threshold = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    min_annotations = serializers.IntegerField(required=False, min_value=1, max_value=100)
    apply_adjudications = serializers.BooleanField(required=False, default=True)
    unanswered_as_original = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Images nobody answered get their original label (ReaL's convention). Default: on when the "
        "dataset has original labels.",
    )
    client_uuid = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="Made by the client; a retry gets the same release."
    )


class ReleaseProgressOutput(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "version", "state", "phase", "progress", "error"]


class ReleaseListCreateApi(APIView):
    """GET: the dataset's ready releases, newest first. POST: start building a new one (202)."""

    permission_classes = [CanUseReleases]

    @extend_schema(responses=ReleaseOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        releases = ready_releases(dataset).prefetch_related("files")
        return Response(ReleaseOutput(releases, many=True).data)

    @extend_schema(
        request=ReleaseInput,
        responses={202: ReleaseProgressOutput, 200: ReleaseProgressOutput},
        description="202 when a build starts; 200 with the first release when `client_uuid` was already used.",
    )
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        data = validated(ReleaseInput(data=request.data))
        with refused(ReleaseInputError):
            release, created = release_create(dataset=dataset, created_by=request.user, **data)
        return Response(ReleaseProgressOutput(release).data, status=status.HTTP_202_ACCEPTED if created else 200)


class ReleaseDetailApi(APIView):
    permission_classes = [CanUseReleases]

    @extend_schema(responses=ReleaseOutput)
    def get(self, request: Request, pk: int) -> Response:
        release = get_object_or_404(ready_releases().prefetch_related("files"), pk=pk)
        return Response(ReleaseOutput(release).data)


class ReleaseProgressApi(APIView):
    """The state of a build, polled by the release page: phase, fraction done, error."""

    permission_classes = [CanUseReleases]

    @extend_schema(responses=ReleaseProgressOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReleaseProgressOutput(get_object_or_404(Release, pk=pk)).data)


class ReleaseFileApi(APIView):
    """Download one file of a ready release (`zip`: all of them); the SHA-256 is in the ETag and a header.

    A single byte range (`Range: bytes=N-` or `bytes=N-M`) is answered with 206 and that part, so an
    interrupted download resumes; with `If-Range`, only while the ETag still matches. Any other range header
    is ignored (the whole file, 200), as HTTP allows."""

    permission_classes = [CanUseReleases]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int, kind: str) -> FileResponse:
        release = get_object_or_404(ready_releases(), pk=pk)
        stored = ReleaseFile.objects.filter(release=release, kind=kind).first()
        if stored is None:
            raise Http404
        zipped = kind == ReleaseFile.Kind.ZIP
        name = stored.filename if zipped else f"{release.dataset.slug}-v{release.version}-{stored.filename}"
        etag = f'"{stored.sha256}"'
        wanted = byte_range(request.headers.get("Range"), stored.size)
        if wanted is not None and request.headers.get("If-Range", etag) != etag:
            wanted = None
        handle = release_storage().open(stored.storage_name, "rb")
        start, end = wanted or (0, stored.size - 1)
        if wanted is not None:
            handle.seek(start)
        body = handle if end == stored.size - 1 else LimitedReader(handle, end - start + 1)
        response = FileResponse(
            body,
            as_attachment=True,
            filename=name,
            content_type=stored.content_type,
            status=206 if wanted is not None else 200,
        )
        response["Content-Length"] = str(end - start + 1 if stored.size else 0)
        if wanted is not None:
            response["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
        response["Accept-Ranges"] = "bytes"
        response["ETag"] = etag
        response["X-Content-SHA256"] = stored.sha256
        return response


class ReleaseCompareApi(APIView):
    """Images whose label set changed from release `pk` to release `other` (same dataset), with counts."""

    permission_classes = [CanUseReleases]

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(KINDS)),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, pk: int, other: int) -> Response:
        before = get_object_or_404(ready_releases(), pk=pk)
        after = get_object_or_404(ready_releases(), pk=other, dataset_id=before.dataset_id)
        kind = request.query_params.get("kind") or None
        if kind is not None and kind not in KINDS:
            raise ApiError(f"kind must be one of {', '.join(KINDS)}")
        offset = query_int(request.query_params, "offset", default=0)
        limit = query_int(request.query_params, "limit", default=100, minimum=1, maximum=MAX_COMPARE_LIMIT)
        result = release_compare(before, after, kind=kind, offset=offset, limit=limit)
        return Response(
            {
                "before": {"id": before.pk, "version": before.version},
                "after": {"id": after.pk, "version": after.version},
                "counts": result.counts,
                "total": result.total,
                "offset": offset,
                "results": result.rows,
            }
        )
