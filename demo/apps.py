from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`manage.py demo`: the demo data (photographs, ImageNet val with ReaL's raters) and the whole app running.
    It writes only through the annotator's and evaluation's services, so neither app depends on it."""

    name = "demo"
    verbose_name = "Demo"
