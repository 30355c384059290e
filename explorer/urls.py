"""Root URLconf: the explorer's pages, the admin, login, and the REST API at the root as Orthanc has it."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import Resolver404, include, path, re_path, resolve

from explorer import failures, levels, viewer, views
from explorer.rights import AUDIT, DELETE, UPLOAD, VIEW, page

# The explorer's pages; /ui/… keeps them apart from the REST API, which owns the root. Each
# page names the right it needs (explorer/rights.py).
page_patterns = [
    path("", page(views.root, VIEW), name="root"),
    path("ui/", page(views.home, VIEW), name="home"),
    path("ui/patients", page(views.patient_list, VIEW), name="patient-list"),
    path("ui/studies", page(views.study_list, VIEW), name="study-list"),
    path("ui/patients/<str:public_id>", page(views.patient, VIEW), name="patient"),
    path("ui/studies/<str:public_id>", page(views.study, VIEW), name="study"),
    path("ui/series/<str:public_id>", page(views.series, VIEW), name="series"),
    path("ui/instances/<str:public_id>", page(views.instance, VIEW), name="instance"),
    path("ui/upload", page(views.upload, UPLOAD), name="upload"),
    path("ui/audit", page(views.audit_trail, AUDIT), name="audit"),
    path("ui/audit.csv", page(views.audit_csv, AUDIT), name="audit-csv"),
    path("", include("dicomnet.page_urls")),
    # The OHIF viewer: its files, and index.html for the routes its own router answers.
    path("viewer", page(viewer.to_app, VIEW)),
    path("viewer/app-config.js", page(viewer.app_config, VIEW), name="viewer-config"),
    path("viewer/", page(viewer.app, VIEW), name="viewer"),
    path("viewer/<path:path>", page(viewer.app, VIEW), name="viewer-file"),
]
page_patterns += [
    path(
        f"ui/{level.plural}/<str:public_id>/delete",
        page(views.delete, DELETE),
        {"level": level},
        name=f"delete-{level.name.lower()}",
    )
    for level in levels.LEVELS
]

REST_URLCONFS = ("explorer.api.urls", "explorer.dicomweb.urls", "dicomnet.urls")

urlpatterns = page_patterns + [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/queues/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    # DICOMweb before the REST API's long table: a viewer asks for one frame per request.
    path("", include("explorer.dicomweb.urls")),
    path("", include("explorer.api.urls")),
    path("", include("dicomnet.urls")),
]


def unknown_route(request, exception=None):
    # Orthanc's JSON 404 on the REST API; under /ui/ a page, as for a view's Http404.
    return failures.not_found(request, exception)


def rest_route_spelled_loosely(request, path):
    """A REST route written with a trailing slash or doubled slashes (`/studies/`,
    `//system`), which Orthanc serves as the route itself. Only the REST API's routes are
    looked up so: the explorer's pages and the admin keep their own URLs."""
    tidy = "/" + "/".join(part for part in path.split("/") if part)
    if tidy != "/" + path:
        for urlconf in REST_URLCONFS:
            try:
                match = resolve(tidy, urlconf=urlconf)
            except Resolver404:
                continue
            return match.func(request, *match.args, **match.kwargs)
    return unknown_route(request)


# Last: reached only by a path no route above takes. Not exempt from CSRF, as the REST
# views are not: a session's request still needs its token, a Basic one does not.
urlpatterns.append(re_path(r"^(?P<path>.*)$", rest_route_spelled_loosely))

# A view's Http404, and any error no view answered: JSON on the REST API, a page on the explorer.
handler404 = failures.not_found
handler500 = failures.server_error
