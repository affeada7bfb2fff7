from django.urls import path

from evaluation.api import leaderboard as api
from evaluation.views import leaderboard as views

app_name = "leaderboard"

urlpatterns = [
    path("evaluation/", views.evaluation_index, name="index"),
    path("datasets/<slug:slug>/evaluation/", views.leaderboard, name="leaderboard"),
    path("datasets/<slug:slug>/evaluation/leaderboard.csv", views.leaderboard_csv, name="leaderboard-csv"),
    path("api/datasets/<slug:slug>/leaderboard/", api.LeaderboardApi.as_view(), name="api-leaderboard"),
]
