"""The network's REST routes; each method names the right it needs (explorer/rights.py)."""

from django.urls import path

from dicomnet.api import dicomweb_servers, exports, jobs, metrics, modifications, peers
from dicomnet.api import modalities as api
from dicomnet.api import remote as ops
from explorer.api.base import endpoint
from explorer.rights import CLEAR_CHANGES, DELETE, JOBS, MODALITIES, MODIFY, PEERS, QUERY_RETRIEVE, SEND, VIEW

urlpatterns = [
    path("modalities", endpoint(GET=VIEW(api.list_modalities))),
    path(
        "modalities/<str:name>", endpoint(GET=VIEW(api.show), PUT=MODALITIES(api.update), DELETE=MODALITIES(api.delete))
    ),
    path("modalities/<str:name>/configuration", endpoint(GET=VIEW(api.show_configuration))),
    path("modalities/<str:name>/echo", endpoint(POST=QUERY_RETRIEVE(ops.echo))),
    path("modalities/<str:name>/store", endpoint(POST=SEND(ops.store))),
    path("modalities/<str:name>/query", endpoint(POST=QUERY_RETRIEVE(ops.query))),
    path("modalities/<str:name>/move", endpoint(POST=QUERY_RETRIEVE(ops.move))),
    path("modalities/<str:name>/get", endpoint(POST=QUERY_RETRIEVE(ops.get))),
    path("queries", endpoint(GET=VIEW(ops.list_queries))),
    path("queries/<str:query_id>", endpoint(GET=VIEW(ops.show_query), DELETE=QUERY_RETRIEVE(ops.delete_query))),
    path("queries/<str:query_id>/answers", endpoint(GET=VIEW(ops.answers))),
    path("queries/<str:query_id>/retrieve", endpoint(POST=QUERY_RETRIEVE(ops.retrieve_all))),
    path("queries/<str:query_id>/answers/<int:index>", endpoint(GET=VIEW(ops.show_answer))),
    path("queries/<str:query_id>/answers/<int:index>/content", endpoint(GET=VIEW(ops.answer_content))),
    path("queries/<str:query_id>/answers/<int:index>/retrieve", endpoint(POST=QUERY_RETRIEVE(ops.retrieve_answer))),
    path("exports", endpoint(GET=VIEW(exports.list_exports), DELETE=CLEAR_CHANGES(exports.clear_exports))),
    path("jobs", endpoint(GET=VIEW(jobs.list_jobs))),
    path("tools/metrics", endpoint(GET=VIEW(metrics.enabled))),
    path("tools/metrics-prometheus", endpoint(GET=VIEW(metrics.prometheus))),
    path("jobs/<str:job_id>", endpoint(GET=VIEW(jobs.show_job))),
    path("studies/<str:public_id>/merge", endpoint(POST=MODIFY(modifications.merge))),
    path("studies/<str:public_id>/split", endpoint(POST=MODIFY(modifications.split))),
    path("tools/bulk-modify", endpoint(POST=MODIFY(modifications.bulk_modify))),
    path("tools/bulk-anonymize", endpoint(POST=MODIFY(modifications.bulk_anonymize))),
    # The DICOMweb client: remote DICOMweb servers.
    path("dicom-web/servers", endpoint(GET=VIEW(dicomweb_servers.list_servers))),
    path(
        "dicom-web/servers/<str:name>",
        endpoint(
            GET=VIEW(dicomweb_servers.show),
            PUT=MODALITIES(dicomweb_servers.update),
            DELETE=MODALITIES(dicomweb_servers.delete),
        ),
    ),
    path("dicom-web/servers/<str:name>/stow", endpoint(POST=SEND(dicomweb_servers.stow))),
    path("dicom-web/servers/<str:name>/qido", endpoint(POST=QUERY_RETRIEVE(dicomweb_servers.qido))),
    path("dicom-web/servers/<str:name>/get", endpoint(POST=QUERY_RETRIEVE(dicomweb_servers.get))),
    path("dicom-web/servers/<str:name>/retrieve", endpoint(POST=QUERY_RETRIEVE(dicomweb_servers.retrieve))),
    path("dicom-web/servers/<str:name>/wado", endpoint(POST=QUERY_RETRIEVE(dicomweb_servers.wado))),
    path("dicom-web/servers/<str:name>/delete", endpoint(POST=DELETE(dicomweb_servers.delete_remote))),
    # Orthanc peers.
    path("peers", endpoint(GET=VIEW(peers.list_peers))),
    path(
        "peers/<str:name>",
        endpoint(GET=VIEW(peers.show), PUT=PEERS(peers.update), DELETE=PEERS(peers.delete)),
    ),
    path("peers/<str:name>/configuration", endpoint(GET=VIEW(peers.show_configuration))),
    path("peers/<str:name>/system", endpoint(GET=VIEW(peers.system))),
    path("peers/<str:name>/store", endpoint(POST=SEND(peers.store))),
    path("peers/<str:name>/store-straight", endpoint(POST=SEND(peers.store_straight))),
]
# Modify and anonymize a patient, study or series: a job (an instance's answer a file, explorer/api).
for route, kwargs, action in modifications.routes():
    urlpatterns.append(path(route, endpoint(POST=MODIFY(getattr(modifications, action))), kwargs))
for part in ("level", "modality", "query", "dropped-keys"):
    urlpatterns.append(path(f"queries/<str:query_id>/{part}", endpoint(GET=VIEW(ops.query_part)), {"part": part}))
for action in ("cancel", "pause", "resume", "resubmit"):
    urlpatterns.append(path(f"jobs/<str:job_id>/{action}", endpoint(POST=JOBS(jobs.job_action)), {"action": action}))
