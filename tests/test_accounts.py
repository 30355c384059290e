import pytest
from django.contrib.auth import get_user_model

from explorer.accounts import PASSWORD_FILE, ensure_admin

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
