from django.urls import path

from evaluation.api import pilots as api
from evaluation.views import pilots as views

app_name = "pilots"

urlpatterns = [
    path("datasets/<slug:slug>/pilot/", views.pilot_page, name="pilot"),
    path("api/datasets/<slug:slug>/pilot/", api.PilotApi.as_view(), name="api-pilot"),
]
