import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
application = get_wsgi_application()

# Each web worker process logs at the level set through /tools/log-level.
from explorer import logs  # noqa: E402  (after Django is set up)

logs.follow()
