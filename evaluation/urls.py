from django.urls import path

from evaluation import api, views

app_name = "evaluation"

urlpatterns = [
    path("evaluation/", views.evaluation_index, name="index"),
    path("datasets/<slug:slug>/evaluation/", views.leaderboard, name="leaderboard"),
    path("datasets/<slug:slug>/evaluation/upload/", views.prediction_set_upload, name="upload"),
    path("datasets/<slug:slug>/evaluation/candidates/", views.candidate_sources, name="candidate-sources"),
    path("prediction-sets/<int:pk>/", views.prediction_set_detail, name="prediction-set"),
    path(
        "api/datasets/<slug:slug>/prediction-sets/",
        api.PredictionSetListCreateApi.as_view(),
        name="api-prediction-sets",
    ),
    path("api/prediction-sets/<int:pk>/snapshots/", api.SnapshotListApi.as_view(), name="api-snapshots"),
]
