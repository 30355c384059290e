import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
application = get_wsgi_application()

# Each web worker process (gunicorn, with either worker class) serves requests whatever their
# Expect header says, and logs at the level set through /tools/log-level.
from explorer import logs, web_worker  # noqa: E402  (after Django is set up)

web_worker.serve_unknown_expectations()
logs.follow()
