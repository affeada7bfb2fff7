from django.http import HttpRequest, HttpResponse


def ping(request: HttpRequest) -> HttpResponse:
    """The cheapest Django response: the floor the benchmark compares the API with."""
    return HttpResponse("ok", content_type="text/plain")
