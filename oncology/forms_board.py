"""Forms of the tumour-board pages. They check shape only; the rules (roles, the patient's
visibility, the prediction's owner, versions) are applied by oncology.services.board."""

from __future__ import annotations

from typing import Any

from django import forms

from core.models import User
from oncology.models_board import MeetingStatus
from oncology.services.board import OTHER_OPTION


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _people(user: User) -> Any:
    if user.institution_id is None:
        return User.objects.none()
    return (
        User.objects.filter(institution_id=user.institution_id, is_active=True)
        .exclude(role="integration")
        .order_by("last_name", "first_name", "username")
    )


class _PeopleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name() or obj.get_username()
        return f"{name} ({obj.get_role_display()})"


class MeetingForm(forms.Form):
    title = forms.CharField(max_length=200)
    scheduled_for = forms.DateTimeField(
        label="Date and time", widget=DateTimeInput(), input_formats=["%Y-%m-%dT%H:%M"]
    )
    location = forms.CharField(max_length=200, required=False)
    status = forms.ChoiceField(choices=MeetingStatus.choices, initial=MeetingStatus.PLANNED)
    attendees = _PeopleChoice(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="People with an account at this institution.",
    )
    guest_attendees = forms.CharField(
        label="Guests",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Attendees without an account: name and role, one per line.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = _people(user)  # type: ignore[attr-defined]


class CaseAddForm(forms.Form):
    patient = forms.ChoiceField(
        help_text="Patients of your care teams at this institution, not yet on this meeting."
    )
    question = forms.CharField(
        label="Question for the board",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    presenter = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, user: User, patients: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["patient"].choices = [("", "Choose a patient")] + patients  # type: ignore[attr-defined]
        self.fields["presenter"].queryset = _people(user)  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    prediction = forms.CharField(required=False, widget=forms.HiddenInput)
    chosen_option = forms.ChoiceField(label="Chosen option")
    plan = forms.CharField(label="Plan", widget=forms.Textarea(attrs={"rows": 3}))
    rationale = forms.CharField(label="Rationale", widget=forms.Textarea(attrs={"rows": 3}))
    dissent = forms.CharField(
        label="Dissent",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who disagreed and why, in their words.",
    )
    attendees = _PeopleChoice(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    guest_attendees = forms.CharField(
        label="Guests",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Name and role, one per line.",
    )
    amendment_reason = forms.CharField(
        label="Reason for the amendment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, user: User, options: list[str], people: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.set_options(options)
        # The people who may have been there (the meeting's attendees and the patient's care
        # teams, from the view), not every account of the hospital.
        self.fields["attendees"].queryset = (  # type: ignore[attr-defined]
            _people(user) if people is None else people
        )

    def set_options(self, options: list[str]) -> None:
        # No option is preselected: the board's choice is made on purpose.
        self.fields["chosen_option"].choices = [  # type: ignore[attr-defined]
            ("", "Choose the option the board chose"),
            *((o, "Other (describe in the plan)" if o == OTHER_OPTION else o) for o in options),
        ]
