from django import template

from answerprint.review.notifications import unread_count

register = template.Library()


@register.inclusion_tag("review/_bell.html", takes_context=True)
def inbox_bell(context):
    """The bell in the top bar: unread notifications, updated live by the review rooms."""
    user = context["user"]
    return {"unread": unread_count(user.pk) if user.is_authenticated else 0}
