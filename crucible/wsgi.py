import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")
application = get_wsgi_application()

from crucible.checks import refuse_to_serve_with_published_passwords  # noqa: E402 (needs settings)

refuse_to_serve_with_published_passwords()
