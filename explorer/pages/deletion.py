"""Deleting a resource from its page: what the confirmation step shows, and where to go after."""

from dataclasses import dataclass

from django.urls import reverse

from explorer import index, resource_counts
from explorer.pages.links import resource_url
from explorer.pages.resource import title_of


@dataclass
class Deletion:
    """What the confirmation step shows before a resource is deleted."""

    level: str
    title: str
    public_id: str
    counts: dict
    cancel_url: str


def deletion(level, resource):
    return Deletion(
        level=level.name,
        title=title_of(level, resource),
        public_id=resource.public_id,
        counts=resource_counts.resource_statistics(level, resource),
        cancel_url=resource_url(level, resource.public_id),
    )


def delete_and_go_up(level, resource):
    """Delete the resource; the URL of what remains above it (its nearest ancestor left, or the lists)."""
    remaining = index.delete(level, resource)
    if remaining is None:
        return reverse("patient-list")
    parent_level, parent = remaining
    return resource_url(parent_level, parent.public_id)
