"""The network pages' routes under /ui/ (included by explorer/urls.py with the other pages), each
with the right it needs (explorer/rights.py)."""

from django.urls import path

from dicomnet import change_views, views
from explorer import levels
from explorer.rights import JOBS, MODIFY, QUERY_RETRIEVE, SEND, VIEW, page

urlpatterns = [
    path("ui/query-retrieve", page(views.query_retrieve, QUERY_RETRIEVE), name="query-retrieve"),
    path("ui/queries/<str:query_id>", page(views.query_answers, QUERY_RETRIEVE), name="remote-query"),
    path("ui/queries/<str:query_id>/retrieve", page(views.retrieve_all, QUERY_RETRIEVE), name="remote-query-retrieve"),
    path(
        "ui/queries/<str:query_id>/answers/<int:index>/series",
        page(views.answer_series, QUERY_RETRIEVE),
        name="remote-answer-series",
    ),
    path(
        "ui/queries/<str:query_id>/answers/<int:index>/retrieve",
        page(views.retrieve_answer, QUERY_RETRIEVE),
        name="remote-answer-retrieve",
    ),
    # A DICOMweb server's answers: the search is in the query string, asked again when opened.
    path("ui/query-retrieve/dicomweb/<str:name>", page(views.web_query_answers, QUERY_RETRIEVE), name="web-query"),
    path(
        "ui/query-retrieve/dicomweb/<str:name>/retrieve",
        page(views.web_retrieve_all, QUERY_RETRIEVE),
        name="web-retrieve-all",
    ),
    path(
        "ui/query-retrieve/dicomweb/<str:name>/studies/<str:study_uid>",
        page(views.web_study_series, QUERY_RETRIEVE),
        name="web-query-study",
    ),
    path(
        "ui/query-retrieve/dicomweb/<str:name>/studies/<str:study_uid>/retrieve",
        page(views.web_retrieve_study, QUERY_RETRIEVE),
        name="web-retrieve-study",
    ),
    path(
        "ui/query-retrieve/dicomweb/<str:name>/studies/<str:study_uid>/series/<str:series_uid>/retrieve",
        page(views.web_retrieve_study, QUERY_RETRIEVE),
        name="web-retrieve-series",
    ),
    path("ui/jobs", page(views.job_list, VIEW), name="job-list"),
    path("ui/jobs/<str:job_id>", page(views.job_detail, VIEW), name="job"),
    path("ui/jobs/<str:job_id>/<str:action>", page(views.job_action, JOBS), name="job-action"),
]
urlpatterns += [
    path(
        f"ui/{level.plural}/<str:public_id>/send",
        page(views.send, SEND),
        {"level": level},
        name=f"send-{level.name.lower()}",
    )
    for level in levels.LEVELS
]
# Modify and anonymize: the levels whose change is a job (an instance's answers a file, REST only).
CHANGED_LEVELS = (levels.PATIENT, levels.STUDY, levels.SERIES)
urlpatterns += [
    path(
        f"ui/{level.plural}/<str:public_id>/{action}",
        page(getattr(change_views, action), MODIFY),
        {"level": level},
        name=f"{action}-{level.name.lower()}",
    )
    for level in CHANGED_LEVELS
    for action in ("modify", "anonymize")
]
