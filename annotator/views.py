from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from annotator.selectors import dataset_list_with_counts


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"datasets": dataset_list_with_counts()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
