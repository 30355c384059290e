"""The REST route table (Orthanc's routes); handlers are generic over the level. Each method
of a route names the right it needs (explorer/rights.py): GET=VIEW(handler)."""

from django.urls import path

from explorer import levels
from explorer.api import attachments, bulk, images, instances, metadata, modification, resources, runtime, system, tools
from explorer.api.base import endpoint
from explorer.rights import CLEAR_CHANGES, DELETE, MODIFY, SETTINGS, UPLOAD, VIEW

urlpatterns = [
    path("system", endpoint(GET=VIEW(system.system))),
    path("statistics", endpoint(GET=VIEW(system.statistics))),
    path("changes", endpoint(GET=VIEW(system.changes), DELETE=CLEAR_CHANGES(system.clear_changes))),
    path("tools", endpoint(GET=VIEW(runtime.tools))),
    path(
        "tools/default-encoding",
        endpoint(GET=VIEW(runtime.default_encoding), PUT=SETTINGS(runtime.set_default_encoding)),
    ),
    path(
        "tools/accepted-transfer-syntaxes",
        endpoint(GET=VIEW(runtime.accepted_transfer_syntaxes), PUT=SETTINGS(runtime.set_accepted_transfer_syntaxes)),
    ),
    path(
        "tools/unknown-sop-class-accepted",
        endpoint(GET=VIEW(runtime.unknown_sop_class_accepted), PUT=SETTINGS(runtime.set_unknown_sop_class_accepted)),
    ),
    path("tools/log-level", endpoint(GET=VIEW(runtime.log_level), PUT=SETTINGS(runtime.set_log_level))),
    path("plugins", endpoint(GET=VIEW(runtime.plugins))),
    path("plugins/<str:name>", endpoint(GET=VIEW(runtime.plugin))),
    path("tools/lookup", endpoint(POST=VIEW(tools.lookup))),
    path("tools/find", endpoint(POST=VIEW(tools.find))),
    # Creating an instance stores new data, as an upload does; nothing stored is changed.
    path("tools/create-dicom", endpoint(POST=UPLOAD(tools.create_dicom))),
    path("tools/create-archive", endpoint(POST=VIEW(resources.create_archive))),
    path("tools/bulk-content", endpoint(POST=VIEW(bulk.bulk_content))),
    path("tools/bulk-delete", endpoint(POST=DELETE(bulk.bulk_delete))),
    path("tools/now", endpoint(GET=VIEW(system.now))),
    path("tools/now-local", endpoint(GET=VIEW(system.now_local))),
    path(
        "instances",
        endpoint(GET=VIEW(resources.list_resources), POST=UPLOAD(instances.upload)),
        {"level": levels.INSTANCE},
    ),
    path("instances/<str:public_id>/file", endpoint(GET=VIEW(instances.file))),
    path("instances/<str:public_id>/pdf", endpoint(GET=VIEW(instances.pdf))),
    path("instances/<str:public_id>/tags", endpoint(GET=VIEW(instances.tags_view))),
    path("instances/<str:public_id>/simplified-tags", endpoint(GET=VIEW(instances.simplified_tags))),
    path("instances/<str:public_id>/header", endpoint(GET=VIEW(instances.header))),
    path("instances/<str:public_id>/modify", endpoint(POST=MODIFY(modification.modify_instance))),
    path("instances/<str:public_id>/anonymize", endpoint(POST=MODIFY(modification.anonymize_instance))),
    path("instances/<str:public_id>/content", endpoint(GET=VIEW(instances.content))),
    path("instances/<str:public_id>/content/<path:path>", endpoint(GET=VIEW(instances.content))),
    path("instances/<str:public_id>/frames", endpoint(GET=VIEW(images.frames))),
    path("instances/<str:public_id>/preview", endpoint(GET=VIEW(images.preview))),
    path("instances/<str:public_id>/frames/<str:frame>/preview", endpoint(GET=VIEW(images.preview))),
    path("instances/<str:public_id>/rendered", endpoint(GET=VIEW(images.rendered))),
    path("instances/<str:public_id>/frames/<str:frame>/rendered", endpoint(GET=VIEW(images.rendered))),
    path("instances/<str:public_id>/image-uint8", endpoint(GET=VIEW(images.image_uint8))),
    path("instances/<str:public_id>/frames/<str:frame>/image-uint8", endpoint(GET=VIEW(images.image_uint8))),
    path("instances/<str:public_id>/image-uint16", endpoint(GET=VIEW(images.image_uint16))),
    path("instances/<str:public_id>/frames/<str:frame>/image-uint16", endpoint(GET=VIEW(images.image_uint16))),
]

for level in levels.LEVELS:
    kwargs = {"level": level}
    if level is not levels.INSTANCE:
        urlpatterns.append(path(level.plural, endpoint(GET=VIEW(resources.list_resources)), kwargs))
    urlpatterns += [
        path(
            f"{level.plural}/<str:public_id>",
            endpoint(GET=VIEW(resources.show), DELETE=DELETE(resources.delete)),
            kwargs,
        ),
        path(f"{level.plural}/<str:public_id>/statistics", endpoint(GET=VIEW(resources.statistics)), kwargs),
    ]
    if level is not levels.INSTANCE:
        urlpatterns.append(
            path(
                f"{level.plural}/<str:public_id>/archive",
                endpoint(GET=VIEW(resources.archive), POST=VIEW(resources.archive_post)),
                kwargs,
            )
        )
    for source, relation in resources.RELATIVE_PATHS:
        if source is level:
            urlpatterns.append(
                path(
                    f"{level.plural}/<str:public_id>/{relation}",
                    endpoint(GET=VIEW(resources.relative)),
                    kwargs | {"relation": relation},
                )
            )

# What Orthanc's clients read beside the resources themselves: metadata, attachments, DICOM
# modules, shared tags, slice order.
for level in levels.LEVELS:
    kwargs = {"level": level}
    attachment = f"{level.plural}/<str:public_id>/attachments/<str:name>"
    urlpatterns += [
        path(f"{level.plural}/<str:public_id>/attachments", endpoint(GET=VIEW(attachments.list_attachments)), kwargs),
        path(attachment, endpoint(GET=VIEW(attachments.operations)), kwargs),
        *[
            path(
                f"{attachment}/{operation}",
                endpoint(GET=VIEW(attachments.attachment)),
                kwargs | {"operation": operation},
            )
            for operation in attachments.OPERATIONS
        ],
        path(f"{level.plural}/<str:public_id>/metadata", endpoint(GET=VIEW(metadata.list_metadata)), kwargs),
        path(f"{level.plural}/<str:public_id>/metadata/<str:name>", endpoint(GET=VIEW(metadata.show_metadata)), kwargs),
        path(f"{level.plural}/<str:public_id>/module", endpoint(GET=VIEW(resources.module)), kwargs),
    ]
    if level is not levels.INSTANCE:
        shared = endpoint(GET=VIEW(resources.shared_tags))
        urlpatterns.append(path(f"{level.plural}/<str:public_id>/shared-tags", shared, kwargs))
urlpatterns += [
    path(
        "studies/<str:public_id>/module-patient",
        endpoint(GET=VIEW(resources.module)),
        {"level": levels.STUDY, "module_level": levels.PATIENT},
    ),
    path(
        "series/<str:public_id>/ordered-slices", endpoint(GET=VIEW(resources.ordered_slices)), {"level": levels.SERIES}
    ),
]
