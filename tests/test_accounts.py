import pytest
from django.contrib.auth import get_user_model

from explorer import rights
from explorer.accounts import PASSWORD_FILE, ensure_admin, ensure_users

pytestmark = pytest.mark.django_db


def test_the_first_start_creates_the_admin_with_the_configured_password():
    assert ensure_admin("admin", "s3cret") is None
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("s3cret")


def test_without_a_password_a_random_one_is_made_and_written_down(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    generated = ensure_admin("admin", "")
    assert generated
    assert get_user_model().objects.get(username="admin").check_password(generated)
    assert (tmp_path / PASSWORD_FILE).read_text().split() == ["admin", generated]
    assert ensure_admin("admin", "") is None  # shown once only


def test_a_new_password_setting_updates_the_admin():
    ensure_admin("admin", "first")
    ensure_admin("admin", "second")
    assert get_user_model().objects.get(username="admin").check_password("second")


def test_registered_users_become_administrators_unless_put_in_another_group():
    users = get_user_model().objects
    ensure_users({"alice": "secret", "bob": "builder"})
    assert rights.allows(users.get(username="alice"), rights.DELETE)
    bob = users.get(username="bob")
    bob.groups.set([rights.group_named(rights.VIEWER)])
    ensure_users({"alice": "secret", "bob": "builder"})  # the next start
    bob = users.get(username="bob")
    assert [group.name for group in bob.groups.all()] == [rights.VIEWER]
    assert not rights.allows(bob, rights.DELETE) and rights.allows(bob, rights.VIEW)


def test_the_administrator_is_a_superuser_with_every_right():
    ensure_admin("admin", "s3cret")
    admin = get_user_model().objects.get(username="admin")
    assert all(rights.allows(admin, right) for right in rights.RIGHTS)
