"""Who may do what: the rights, what each means, and the groups that get each by default.

Every route declares, per HTTP method, the right it needs: the REST table through
`endpoint(GET=VIEW(handler), …)` (explorer/api/base.py), the pages through `page(view, right)`.
A route without a declared right cannot be built (endpoint and page raise at import), and
tests/test_rights.py walks every route with every group.

A right is a Django permission (`explorer.<name>`, on the table-less model
explorer.models.Rights), so the administration pages edit which group has which right and who
is in which group. Superusers have every right. The groups and their rights below are what the
migration 0006_roles creates; the README's rights table is this table (tests/test_rights.py).
"""

from dataclasses import dataclass, field
from functools import wraps

from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render

VIEWER, OPERATOR, ADMINISTRATOR = "viewer", "operator", "administrator"
GROUPS = (VIEWER, OPERATOR, ADMINISTRATOR)
UP_FROM_VIEWER = (VIEWER, OPERATOR, ADMINISTRATOR)
UP_FROM_OPERATOR = (OPERATOR, ADMINISTRATOR)
ADMINISTRATOR_ONLY = (ADMINISTRATOR,)
MODEL = "rights"  # explorer.models.Rights, holder of the permissions


@dataclass(frozen=True)
class Right:
    name: str
    meaning: str
    groups: tuple
    # Django's own model permissions that go with the right, for the administration pages
    # that edit the same things ("app_label.codename").
    admin_permissions: tuple = field(default=())

    @property
    def permission(self):
        return f"explorer.{self.name}"

    def __call__(self, handler):
        """The handler of one method of a REST route, with the right it needs."""
        return Guarded(self, handler)


@dataclass(frozen=True)
class Guarded:
    right: Right
    handler: object


def _model_permissions(model, actions=("add", "change", "delete", "view")):
    app_label, name = model.split(".")
    return tuple(f"{app_label}.{action}_{name}" for action in actions)


VIEW = Right(
    "view",
    "Browse patients, studies, series and instances, see their images and tags, download files "
    "and archives, search; read the server's state (system, statistics, changes, jobs, "
    "modalities, queries, settings).",
    UP_FROM_VIEWER,
)
UPLOAD = Right("upload", "Store new instances: the upload page, POST /instances.", UP_FROM_OPERATOR)
SEND = Right(
    "send", "Send resources to a modality (C-STORE), a DICOMweb server (STOW-RS) or an Orthanc peer.", UP_FROM_OPERATOR
)
QUERY_RETRIEVE = Right(
    "query_retrieve",
    "Echo, query (C-FIND) and retrieve from (C-MOVE, C-GET) a modality; keep and forget the queries.",
    UP_FROM_OPERATOR,
)
JOBS = Right("jobs", "Cancel, pause, resume and resubmit jobs.", UP_FROM_OPERATOR)
MODIFY = Right("modify", "Modify and anonymize resources.", UP_FROM_OPERATOR)
DELETE = Right("delete", "Delete patients, studies, series and instances, with their files.", ADMINISTRATOR_ONLY)
MODALITIES = Right(
    "modalities",
    "Create, change and delete modalities (who may query this server, where C-MOVE sends).",
    ADMINISTRATOR_ONLY,
    _model_permissions("dicomnet.modality"),
)
PEERS = Right("peers", "Create, change and delete Orthanc peers.", ADMINISTRATOR_ONLY)
USERS = Right(
    "users",
    "Create, change and delete users and groups, and who has which right (the administration "
    "pages, for a user with staff status).",
    ADMINISTRATOR_ONLY,
    _model_permissions("auth.user") + _model_permissions("auth.group"),
)
SETTINGS = Right(
    "settings", "Change the server's settings at run time (PUT /tools/…: encoding, log level…).", ADMINISTRATOR_ONLY
)
CLEAR_CHANGES = Right(
    "clear_changes", "Clear the change log (/changes) and the exports log (/exports).", ADMINISTRATOR_ONLY
)
AUDIT = Right("audit", "Read the audit trail and export it as CSV.", ADMINISTRATOR_ONLY)

RIGHTS = (
    VIEW,
    UPLOAD,
    SEND,
    QUERY_RETRIEVE,
    JOBS,
    MODIFY,
    DELETE,
    MODALITIES,
    PEERS,
    USERS,
    SETTINGS,
    CLEAR_CHANGES,
    AUDIT,
)
# explorer.models.Rights' Meta.permissions
PERMISSIONS = tuple((right.name, right.meaning) for right in RIGHTS)


def allows(user, right):
    return user.is_authenticated and user.has_perm(right.permission)


def refusal(right):
    return f"Your account does not have the right “{right.name}” ({right.meaning}). Ask an administrator."


def rights_by_method(rights):
    """{method: right} from one right for every method or a {method: right} of its own."""
    if isinstance(rights, Right):
        return {"*": rights}
    if not rights or not all(isinstance(right, Right) for right in rights.values()):
        raise ImproperlyConfigured(f"A route must declare the right each method needs, not {rights!r}")
    return dict(rights)


def needed(rights, method):
    """The right a request's method needs on a route declaring `rights` ({method: right})."""
    return rights.get(method) or rights.get("*")


def page(view, rights):
    """An explorer page that checks the right it needs: one Right for every method, or a
    {method: right}. A user without it gets a readable 403 page."""
    declared = rights_by_method(rights)

    @wraps(view)
    def guarded(request, *args, **kwargs):
        right = needed(declared, request.method)
        if right is not None and not allows(request.user, right):
            context = {"right": right, "message": refusal(right)}
            return render(request, "explorer/refused.html", context, status=403)
        return view(request, *args, **kwargs)

    guarded.rights = declared
    return guarded


def create_groups(apps):
    """The three groups with their rights (the migration 0006_roles; idempotent). `apps`: the
    migration's historical apps or django.apps.apps."""
    content_types = apps.get_model("contenttypes", "ContentType")
    permissions = apps.get_model("auth", "Permission")
    groups = apps.get_model("auth", "Group")
    holder, _ = content_types.objects.get_or_create(app_label="explorer", model=MODEL)
    for right in RIGHTS:
        permission, _ = permissions.objects.get_or_create(
            content_type=holder, codename=right.name, defaults={"name": right.meaning[:255]}
        )
        extra = [_permission(content_types, permissions, name) for name in right.admin_permissions]
        for group_name in right.groups:
            group, _ = groups.objects.get_or_create(name=group_name)
            group.permissions.add(permission, *[p for p in extra if p is not None])


def _permission(content_types, permissions, dotted):
    """A model permission of Django's ("auth.add_user"), created if the app's models have not
    had theirs yet (the permissions of a fresh database are made after all migrations)."""
    app_label, codename = dotted.split(".")
    action, model = codename.split("_", 1)
    content_type, _ = content_types.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = permissions.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": f"Can {action} {model}"}
    )
    return permission


def group_named(name):
    """One of the three groups, made again with its rights should it be missing."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name=name).exists():
        create_groups(apps)
    return Group.objects.get(name=name)


def markdown_table():
    """The rights table of the README's "Roles and rights" (tests/test_rights.py compares)."""
    lines = ["| Right | What it allows | " + " | ".join(GROUPS) + " |", "|---|---|" + "---|" * len(GROUPS)]
    for right in RIGHTS:
        marks = " | ".join("✓" if group in right.groups else "" for group in GROUPS)
        lines.append(f"| `{right.name}` | {right.meaning} | {marks} |")
    return "\n".join(lines)
