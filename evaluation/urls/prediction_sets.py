from django.urls import path

from evaluation.api import prediction_sets as api
from evaluation.views import prediction_sets as views

app_name = "prediction_sets"

urlpatterns = [
    path("datasets/<slug:slug>/evaluation/upload/", views.prediction_set_upload, name="upload"),
    path("datasets/<slug:slug>/evaluation/candidates/", views.candidate_sources, name="candidate-sources"),
    path("prediction-sets/<id:pk>/", views.prediction_set_detail, name="prediction-set"),
    path(
        "api/datasets/<slug:slug>/prediction-sets/",
        api.PredictionSetListCreateApi.as_view(),
        name="api-prediction-sets",
    ),
    path("api/prediction-sets/<id:pk>/snapshots/", api.SnapshotListApi.as_view(), name="api-snapshots"),
]
