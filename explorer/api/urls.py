"""The REST route table (Orthanc's routes); handlers are generic over the level."""

from django.urls import path

from explorer import levels
from explorer.api import attachments, images, instances, metadata, resources, runtime, system, tools
from explorer.api.base import endpoint

urlpatterns = [
    path("system", endpoint(GET=system.system)),
    path("statistics", endpoint(GET=system.statistics)),
    path("changes", endpoint(GET=system.changes, DELETE=system.clear_changes)),
    path("tools", endpoint(GET=runtime.tools)),
    path("tools/default-encoding", endpoint(GET=runtime.default_encoding, PUT=runtime.set_default_encoding)),
    path(
        "tools/accepted-transfer-syntaxes",
        endpoint(GET=runtime.accepted_transfer_syntaxes, PUT=runtime.set_accepted_transfer_syntaxes),
    ),
    path(
        "tools/unknown-sop-class-accepted",
        endpoint(GET=runtime.unknown_sop_class_accepted, PUT=runtime.set_unknown_sop_class_accepted),
    ),
    path("tools/log-level", endpoint(GET=runtime.log_level, PUT=runtime.set_log_level)),
    path("plugins", endpoint(GET=runtime.plugins)),
    path("peers", endpoint(GET=runtime.peers)),
    path("tools/lookup", endpoint(POST=tools.lookup)),
    path("tools/find", endpoint(POST=tools.find)),
    path("tools/create-archive", endpoint(POST=resources.create_archive)),
    path("tools/now", endpoint(GET=system.now)),
    path("tools/now-local", endpoint(GET=system.now_local)),
    path("instances", endpoint(GET=resources.list_resources, POST=instances.upload), {"level": levels.INSTANCE}),
    path("instances/<str:public_id>/file", endpoint(GET=instances.file)),
    path("instances/<str:public_id>/pdf", endpoint(GET=instances.pdf)),
    path("instances/<str:public_id>/tags", endpoint(GET=instances.tags_view)),
    path("instances/<str:public_id>/simplified-tags", endpoint(GET=instances.simplified_tags)),
    path("instances/<str:public_id>/header", endpoint(GET=instances.header)),
    path("instances/<str:public_id>/content", endpoint(GET=instances.content)),
    path("instances/<str:public_id>/content/<path:path>", endpoint(GET=instances.content)),
    path("instances/<str:public_id>/frames", endpoint(GET=images.frames)),
    path("instances/<str:public_id>/preview", endpoint(GET=images.preview)),
    path("instances/<str:public_id>/frames/<str:frame>/preview", endpoint(GET=images.preview)),
    path("instances/<str:public_id>/rendered", endpoint(GET=images.rendered)),
    path("instances/<str:public_id>/frames/<str:frame>/rendered", endpoint(GET=images.rendered)),
    path("instances/<str:public_id>/image-uint8", endpoint(GET=images.image_uint8)),
    path("instances/<str:public_id>/frames/<str:frame>/image-uint8", endpoint(GET=images.image_uint8)),
    path("instances/<str:public_id>/image-uint16", endpoint(GET=images.image_uint16)),
    path("instances/<str:public_id>/frames/<str:frame>/image-uint16", endpoint(GET=images.image_uint16)),
]

for level in levels.LEVELS:
    kwargs = {"level": level}
    if level is not levels.INSTANCE:
        urlpatterns.append(path(level.plural, endpoint(GET=resources.list_resources), kwargs))
    urlpatterns += [
        path(f"{level.plural}/<str:public_id>", endpoint(GET=resources.show, DELETE=resources.delete), kwargs),
        path(f"{level.plural}/<str:public_id>/statistics", endpoint(GET=resources.statistics), kwargs),
    ]
    if level is not levels.INSTANCE:
        urlpatterns.append(path(f"{level.plural}/<str:public_id>/archive", endpoint(GET=resources.archive), kwargs))
    for (source, relation) in resources.RELATIVE_PATHS:
        if source is level:
            urlpatterns.append(
                path(
                    f"{level.plural}/<str:public_id>/{relation}",
                    endpoint(GET=resources.relative),
                    kwargs | {"relation": relation},
                )
            )

# What Orthanc's clients read beside the resources themselves: metadata, attachments, DICOM
# modules, shared tags, slice order.
for level in levels.LEVELS:
    kwargs = {"level": level}
    attachment = f"{level.plural}/<str:public_id>/attachments/<str:name>"
    urlpatterns += [
        path(f"{level.plural}/<str:public_id>/attachments", endpoint(GET=attachments.list_attachments), kwargs),
        path(attachment, endpoint(GET=attachments.operations), kwargs),
        *[
            path(f"{attachment}/{operation}", endpoint(GET=attachments.attachment), kwargs | {"operation": operation})
            for operation in attachments.OPERATIONS
        ],
        path(f"{level.plural}/<str:public_id>/metadata", endpoint(GET=metadata.list_metadata), kwargs),
        path(f"{level.plural}/<str:public_id>/metadata/<str:name>", endpoint(GET=metadata.show_metadata), kwargs),
        path(f"{level.plural}/<str:public_id>/module", endpoint(GET=resources.module), kwargs),
    ]
    if level is not levels.INSTANCE:
        shared = endpoint(GET=resources.shared_tags)
        urlpatterns.append(path(f"{level.plural}/<str:public_id>/shared-tags", shared, kwargs))
urlpatterns += [
    path(
        "studies/<str:public_id>/module-patient",
        endpoint(GET=resources.module),
        {"level": levels.STUDY, "module_level": levels.PATIENT},
    ),
    path("series/<str:public_id>/ordered-slices", endpoint(GET=resources.ordered_slices), {"level": levels.SERIES}),
]
