"""`user|may_see_audit` for the top bar's link to the audit trail."""

from django import template

from explorer import audit

register = template.Library()


@register.filter
def may_see_audit(user):
    return audit.may_see_audit(user)
