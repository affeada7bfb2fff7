from django.urls import path

from annotator.views import datasets as views

app_name = "datasets"

urlpatterns = [
    path("", views.home, name="home"),
]
