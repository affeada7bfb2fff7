from django.urls import path

from annotator.api import accounts as api

app_name = "accounts"

urlpatterns = [
    path("api/token/", api.TokenApi.as_view(), name="api-token"),
]
