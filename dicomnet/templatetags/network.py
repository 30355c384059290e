"""Template tags of the network pages, for templates the explorer renders.

`send_action` and `change_action` give every resource page its "Send" control and its
Modify and Anonymize actions, without the explorer's views knowing about modalities or jobs
(dicomnet depends on explorer, never the reverse).
"""

from dataclasses import dataclass

from django import template
from django.urls import reverse

from dicomnet import destinations
from dicomnet.change_forms import AnonymizeForm

register = template.Library()


@dataclass
class SendAction:
    url: str
    groups: list  # [(destinations.Kind, [Destination, …])], kinds without one left out
    admin_links: list  # [(Kind, admin URL)] the user may follow to add a destination


@register.simple_tag(takes_context=True)
def send_action(context, page):
    """The "Send" control of a resource page (`page`: explorer.pages.resource.ResourcePage):
    one query per destination kind."""
    user = context.get("user")
    kinds = destinations.sendable()
    admin_links = []
    if user is not None and user.is_staff:
        for kind in kinds:
            if user.has_perm(f"dicomnet.add_{kind.model._meta.model_name}"):
                admin_links.append((kind, reverse(kind.admin_add)))
    return SendAction(
        url=reverse(f"send-{page.level.lower()}", args=[page.public_id]),
        groups=[(kind, found) for kind, found in destinations.listing(kinds) if found],
        admin_links=admin_links,
    )


@dataclass
class ChangeAction:
    modify_url: str
    anonymize_url: str
    anonymize_form: AnonymizeForm


@register.simple_tag
def change_action(page):
    """The Modify link and the Anonymize dialog's form of a patient, study or series page."""
    level = page.level.lower()
    return ChangeAction(
        modify_url=reverse(f"modify-{level}", args=[page.public_id]),
        anonymize_url=reverse(f"anonymize-{level}", args=[page.public_id]),
        anonymize_form=AnonymizeForm(),
    )
