from django import template

from answerprint.accounts import permissions

register = template.Library()


@register.filter
def can(membership, capability):
    """`{% if membership|can:"view_audit" %}`: the same table the views enforce."""
    return permissions.can(membership, capability)
