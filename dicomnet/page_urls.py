"""The network pages' routes under /ui/ (included by explorer/urls.py with the other pages)."""

from django.urls import path

from dicomnet import views
from explorer import levels

urlpatterns = [
    path("ui/query-retrieve", views.query_retrieve, name="query-retrieve"),
    path("ui/queries/<str:query_id>", views.query_answers, name="remote-query"),
    path("ui/queries/<str:query_id>/retrieve", views.retrieve_all, name="remote-query-retrieve"),
    path("ui/queries/<str:query_id>/answers/<int:index>/series", views.answer_series, name="remote-answer-series"),
    path(
        "ui/queries/<str:query_id>/answers/<int:index>/retrieve", views.retrieve_answer, name="remote-answer-retrieve"
    ),
    path("ui/jobs", views.job_list, name="job-list"),
    path("ui/jobs/<str:job_id>", views.job_detail, name="job"),
    path("ui/jobs/<str:job_id>/<str:action>", views.job_action, name="job-action"),
]
urlpatterns += [
    path(f"ui/{level.plural}/<str:public_id>/send", views.send, {"level": level}, name=f"send-{level.name.lower()}")
    for level in levels.LEVELS
]
