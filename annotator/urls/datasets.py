from django.urls import path

from annotator.api import datasets as api
from annotator.views import datasets as views

app_name = "datasets"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/datasets/", api.DatasetListApi.as_view(), name="api-datasets"),
]
