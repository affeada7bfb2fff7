from django.urls import path

from evaluation import api, release_api, release_views, views

app_name = "evaluation"

urlpatterns = [
    path("evaluation/", views.evaluation_index, name="index"),
    path("datasets/<slug:slug>/evaluation/", views.leaderboard, name="leaderboard"),
    path("datasets/<slug:slug>/evaluation/leaderboard.csv", views.leaderboard_csv, name="leaderboard-csv"),
    path("datasets/<slug:slug>/evaluation/upload/", views.prediction_set_upload, name="upload"),
    path("datasets/<slug:slug>/evaluation/candidates/", views.candidate_sources, name="candidate-sources"),
    path("prediction-sets/<id:pk>/", views.prediction_set_detail, name="prediction-set"),
    path(
        "api/datasets/<slug:slug>/prediction-sets/",
        api.PredictionSetListCreateApi.as_view(),
        name="api-prediction-sets",
    ),
    path("api/datasets/<slug:slug>/leaderboard/", api.LeaderboardApi.as_view(), name="api-leaderboard"),
    path("api/prediction-sets/<id:pk>/snapshots/", api.SnapshotListApi.as_view(), name="api-snapshots"),
    # Releases (issue 7)
    path("releases/", release_views.releases_index, name="releases-index"),
    path("datasets/<slug:slug>/releases/", release_views.release_list, name="releases"),
    path("datasets/<slug:slug>/releases/compare/", release_views.release_compare_page, name="release-compare"),
    path("releases/<id:pk>/", release_views.release_detail, name="release"),
    path("api/datasets/<slug:slug>/releases/", release_api.ReleaseListCreateApi.as_view(), name="api-releases"),
    path("api/releases/<id:pk>/", release_api.ReleaseDetailApi.as_view(), name="api-release"),
    path("api/releases/<id:pk>/progress/", release_api.ReleaseProgressApi.as_view(), name="api-release-progress"),
    path("api/releases/<id:pk>/files/<str:kind>/", release_api.ReleaseFileApi.as_view(), name="api-release-file"),
    path(
        "api/releases/<id:pk>/compare/<id:other>/",
        release_api.ReleaseCompareApi.as_view(),
        name="api-release-compare",
    ),
]
