"""The filters of the event list and of exports: one form, so pages, API and command agree."""
import re

from django import forms
from django.contrib.auth import get_user_model

from .exports import ExportRequest
from .selectors import filtered_events

_ACTION = re.compile(r"^[a-z0-9_.]*\*?$")


class ExportFilterForm(forms.Form):
    shot = forms.CharField(required=False, max_length=80)
    actor = forms.CharField(required=False, max_length=200, help_text="name as shown, or username")
    action = forms.CharField(required=False, max_length=100, widget=forms.TextInput(attrs={"list": "audit-actions"}),
                             help_text="an action (media.uploaded), or a prefix ending in '.' or '*' (proposal.*)")
    since = forms.DateTimeField(required=False, help_text="from this time, UTC",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, help_text="before this time, UTC",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, production=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.production = production

    def clean_shot(self):
        name = self.cleaned_data["shot"].strip()
        if not name:
            return None
        if self.production is None:
            raise forms.ValidationError("Choose a production to filter by shot.")
        from answerprint.media.models import Shot

        shot = Shot.objects.filter(production=self.production, name=name).first()
        if shot is None:
            raise forms.ValidationError(f"No shot named {name!r} in {self.production}.")
        return shot

    def clean_actor(self):
        """The person by the name the event list shows (their printed name), or by username."""
        name = " ".join(self.cleaned_data["actor"].split())
        if not name:
            return None
        users = get_user_model().objects.all()
        if self.production is not None:  # anyone who ever had a role here, revoked or not
            users = users.filter(memberships__production=self.production).distinct()
        user = users.filter(username=name).first()
        if user is not None:
            return user
        named = list(users.filter(full_name__iexact=name).order_by("username")[:5])
        if len(named) == 1:
            return named[0]
        if named:
            raise forms.ValidationError(f"Several people are named {name!r}: give the username of the one you mean "
                                        f"({', '.join(u.username for u in named)}).")
        raise forms.ValidationError(f"Nobody named {name!r} has a role here; give the name as the list shows it, "
                                    f"or a username.")

    def clean_action(self):
        action = self.cleaned_data["action"].strip()
        if not _ACTION.match(action):
            raise forms.ValidationError("Use lowercase letters, digits, '_' and '.', optionally ending in '*'.")
        return action

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError("'since' must be before 'until'.")
        return data

    def filters(self):
        """The filters as they are shown, in words and ISO times (they go into the manifest)."""
        data = self.cleaned_data
        shown = {
            "production": self.production.code if self.production is not None else None,
            "shot": data["shot"].name if data.get("shot") else None,
            "actor": data["actor"].username if data.get("actor") else None,
            "action": data.get("action") or None,
            "since": data["since"].isoformat() if data.get("since") else None,
            "until": data["until"].isoformat() if data.get("until") else None,
        }
        return {key: value for key, value in shown.items() if value is not None}

    def events(self):
        data = self.cleaned_data
        return filtered_events(production=self.production, shot=data.get("shot"), actor=data.get("actor"),
                               action=data.get("action") or "", since=data.get("since"), until=data.get("until"))

    def export_request(self):
        filters = self.filters()
        data = self.cleaned_data
        return ExportRequest(events=self.events(), filters=filters, filtered=bool(filters), production=self.production,
                             shot=data.get("shot"), since=data.get("since"), until=data.get("until"))


class ReasonForm(forms.Form):
    """The reason a person types for a read that is recorded (an export, a stored export's download).

    Such reads are made by POST only (with CSRF on the pages), so a link can fill in a form but
    can never make an export, or put words in its reason, by being followed.
    """

    reason = forms.CharField(max_length=500, strip=True, error_messages={
        "required": "Type why you export the log: the reason is kept in the audit log with the export."})


class ExportForm(ReasonForm, ExportFilterForm):
    """An export as a person asks for it: the filters and the reason they type."""
