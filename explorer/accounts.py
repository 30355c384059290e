"""The accounts that `manage.py start` guarantees: the administrator (a superuser) and the
users of Orthanc's RegisteredUsers (in the administrator group)."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model

from explorer import rights

PASSWORD_FILE = "admin-password.txt"


def ensure_admin(username=None, password=None):
    """Create the administrator on first start, or align its password with the setting.

    Returns the generated password when one was made (to be shown once), else None.
    """
    username = username or settings.PHAROS_ADMIN_USER
    password = password if password is not None else settings.PHAROS_ADMIN_PASSWORD
    users = get_user_model()
    admin = users.objects.filter(username=username).first()
    generated = None
    if admin is None:
        if not password:
            password = generated = secrets.token_urlsafe(12)
            path = settings.DATA_DIR / PASSWORD_FILE
            path.write_text(f"{username}\n{password}\n")
            path.chmod(0o600)
        users.objects.create_superuser(username, email="", password=password)
    elif password and not admin.check_password(password):
        admin.set_password(password)
        admin.is_active = admin.is_staff = admin.is_superuser = True
        admin.save()
    return generated


def ensure_users(passwords):
    """Create the users of Orthanc's RegisteredUsers ({name: password}) or align their
    passwords. They are administrators, as Orthanc's users may do everything: one in no group
    is put in the administrator group (one put in another group in the admin stays there).
    Other users are left as they are."""
    users = get_user_model()
    administrator = rights.group_named(rights.ADMINISTRATOR)
    for username, password in passwords.items():
        user = users.objects.filter(username=username).first()
        if user is None:
            user = users.objects.create_user(username, email="", password=password)
        elif not user.check_password(password) or not user.is_active:
            user.set_password(password)
            user.is_active = True
            user.save()
        if not user.groups.exists():
            user.groups.add(administrator)
