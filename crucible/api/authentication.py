from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from crucible.services import api_key_authenticate


class ApiKeyUser(AnonymousUser):
    """Stands in for ``request.user`` when a key was created without a user (by a script)."""

    def __init__(self, key):
        super().__init__()
        self.api_key = key
        self.username = f"api-key:{key.name}"

    @property
    def is_anonymous(self):
        return False

    @property
    def is_authenticated(self):
        return True

    def __str__(self):
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer crk_…``. ``request.auth`` is the ``ApiKey``; ``request.user`` is the
    user who created the key (or a stand-in). Team scoping always follows the key, never the user."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key has characters an API key never has.") from None
        key = api_key_authenticate(raw=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        user = key.created_by if key.created_by is not None and key.created_by.is_active else ApiKeyUser(key)
        return user, key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "crucible.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "crk_<prefix>_<secret>"}
