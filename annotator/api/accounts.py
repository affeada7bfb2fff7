"""POST /api/token/: DRF's token endpoint with the API's parsers (JSON depth bounded) and the login page's
lockout: while django-axes locks a username and address out, the answer is 429 saying so, even to the right
password (DRF's view would say "Unable to log in with provided credentials", a 400)."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.views import login_locked_out


class TokenApi(ObtainAuthToken):
    # The stub types api_settings' class lists as the dotted paths of the settings; DRF imports them.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # type: ignore[assignment]

    # DRF takes any HttpResponse from a handler (the lockout answer is Django's); the stub narrows it to Response.
    def post(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:  # type: ignore[override]
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            # django-axes' backend marks the request it was given (DRF's), which its middleware never sees.
            if getattr(request, "axes_locked_out", False):
                return login_locked_out(request._request, None, getattr(request, "axes_credentials", None))
            raise ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
