"""Root URLconf: the explorer's pages, the admin, login, and the REST API at the root as Orthanc has it."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from explorer import views
from explorer.api.base import error_response
from explorer.errors import UnknownResource

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/queues/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("", include("explorer.api.urls")),
    path("", include("dicomnet.urls")),
]


def unknown_route(request, exception=None):
    return error_response(UnknownResource(), request)


handler404 = unknown_route
