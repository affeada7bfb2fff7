from django.urls import path

from evaluation.api import releases as api
from evaluation.views import releases as views

app_name = "releases"

urlpatterns = [
    path("releases/", views.releases_index, name="releases-index"),
    path("datasets/<slug:slug>/releases/", views.release_list, name="releases"),
    path("datasets/<slug:slug>/releases/compare/", views.release_compare_page, name="release-compare"),
    path("releases/<id:pk>/", views.release_detail, name="release"),
    path("api/datasets/<slug:slug>/releases/", api.ReleaseListCreateApi.as_view(), name="api-releases"),
    path("api/releases/<id:pk>/", api.ReleaseDetailApi.as_view(), name="api-release"),
    path("api/releases/<id:pk>/progress/", api.ReleaseProgressApi.as_view(), name="api-release-progress"),
    path("api/releases/<id:pk>/files/<str:kind>/", api.ReleaseFileApi.as_view(), name="api-release-file"),
    path(
        "api/releases/<id:pk>/compare/<id:other>/",
        api.ReleaseCompareApi.as_view(),
        name="api-release-compare",
    ),
]
