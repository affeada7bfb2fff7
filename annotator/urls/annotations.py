from django.urls import path

from annotator.api import annotations as api
from annotator.views import annotations as views

app_name = "annotations"

urlpatterns = [
    path("datasets/<slug:slug>/annotate/", views.workbench, name="workbench"),
    path("api/datasets/<slug:slug>/next/", api.NextImageApi.as_view(), name="api-next"),
    path("api/datasets/<slug:slug>/progress/", api.ProgressApi.as_view(), name="api-progress"),
    path("api/datasets/<slug:slug>/vocabulary/", api.VocabularyApi.as_view(), name="api-vocabulary"),
    path("api/images/<id:image_id>/skip/", api.SkipApi.as_view(), name="api-skip"),
    path("api/annotations/", api.AnnotationListSubmitApi.as_view(), name="api-annotations"),
    path("api/annotations/<id:pk>/", api.AnnotationDetailReviseApi.as_view(), name="api-annotation"),
]
