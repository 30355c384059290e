from django.urls import path

from dicomnet.api import exports, jobs, metrics
from dicomnet.api import modalities as api
from dicomnet.api import remote as ops
from explorer.api.base import endpoint

urlpatterns = [
    path("modalities", endpoint(GET=api.list_modalities)),
    path("modalities/<str:name>", endpoint(GET=api.show, PUT=api.update, DELETE=api.delete)),
    path("modalities/<str:name>/configuration", endpoint(GET=api.show_configuration)),
    path("modalities/<str:name>/echo", endpoint(POST=ops.echo)),
    path("modalities/<str:name>/store", endpoint(POST=ops.store)),
    path("modalities/<str:name>/query", endpoint(POST=ops.query)),
    path("modalities/<str:name>/move", endpoint(POST=ops.move)),
    path("modalities/<str:name>/get", endpoint(POST=ops.get)),
    path("queries", endpoint(GET=ops.list_queries)),
    path("queries/<str:query_id>", endpoint(GET=ops.show_query, DELETE=ops.delete_query)),
    path("queries/<str:query_id>/answers", endpoint(GET=ops.answers)),
    path("queries/<str:query_id>/retrieve", endpoint(POST=ops.retrieve_all)),
    path("queries/<str:query_id>/answers/<int:index>", endpoint(GET=ops.show_answer)),
    path("queries/<str:query_id>/answers/<int:index>/content", endpoint(GET=ops.answer_content)),
    path("queries/<str:query_id>/answers/<int:index>/retrieve", endpoint(POST=ops.retrieve_answer)),
    path("exports", endpoint(GET=exports.list_exports, DELETE=exports.clear_exports)),
    path("jobs", endpoint(GET=jobs.list_jobs)),
    path("tools/metrics", endpoint(GET=metrics.enabled)),
    path("tools/metrics-prometheus", endpoint(GET=metrics.prometheus)),
    path("jobs/<str:job_id>", endpoint(GET=jobs.show_job)),
]
for part in ("level", "modality", "query", "dropped-keys"):
    urlpatterns.append(path(f"queries/<str:query_id>/{part}", endpoint(GET=ops.query_part), {"part": part}))
for action in ("cancel", "pause", "resume", "resubmit"):
    urlpatterns.append(path(f"jobs/<str:job_id>/{action}", endpoint(POST=jobs.job_action), {"action": action}))
