"""Django's ModelBackend, reading a user's rights in one query instead of two.

Every request of a user who is not a superuser checks a right (explorer/rights.py), so its
permissions are read on every request of a browser's session (once per few seconds for an
API client, whose user is remembered: explorer/auth.py). ModelBackend reads the user's own
permissions and its groups' in two queries; this reads both in one.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class RightsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            pairs = permissions.values_list("content_type__app_label", "codename").distinct()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in pairs}
        return user_obj._perm_cache
