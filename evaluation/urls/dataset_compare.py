from django.urls import path

from evaluation.api import dataset_compare as api
from evaluation.views import dataset_compare as views

app_name = "dataset_compare"

urlpatterns = [
    path("evaluation/compare/", views.dataset_compare_choose, name="choose"),
    path("datasets/<slug:slug>/compare/<slug:other>/", views.dataset_compare_page, name="compare"),
    path("datasets/<slug:slug>/compare/<slug:other>/comparison.csv", views.dataset_compare_csv, name="compare-csv"),
    path("api/datasets/<slug:slug>/compare/<slug:other>/", api.DatasetCompareApi.as_view(), name="api-compare"),
]
