"""Template tags of the network pages, for templates the explorer renders.

`send_action` and `change_action` give every resource page its "Send to a modality" form and its
Modify and Anonymize actions, without the explorer's views knowing about modalities or jobs
(dicomnet depends on explorer, never the reverse).
"""

from dataclasses import dataclass

from django import template
from django.urls import reverse

from dicomnet.change_forms import AnonymizeForm
from dicomnet.forms import SendForm

register = template.Library()


@dataclass
class SendAction:
    form: SendForm
    url: str
    has_modalities: bool
    admin_url: str


@register.simple_tag
def send_action(page):
    """The send form of a resource page (`page`: explorer.pages.resource.ResourcePage)."""
    form = SendForm(auto_id="send_%s")
    field = form.fields["modality"]
    # One query for the whole page: the choices are read once, not counted and then read.
    choices = [(modality.name, f"{modality.name} ({modality.aet})") for modality in field.queryset]
    field.choices = choices
    return SendAction(
        form=form,
        url=reverse(f"send-{page.level.lower()}", args=[page.public_id]),
        has_modalities=bool(choices),
        admin_url=reverse("admin:dicomnet_modality_add"),
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
