"""Filters for the staff-only audit history."""

from datetime import datetime, time, timedelta

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ..models import Channel, ModelVersion, PredictionRequest

# django-filter's form in the browsable API says these. Its catalogue is zh_CN, which Django does
# not read for zh-hans (no fallback between the two), so ours says them in Chinese.
FORM_WORDS = (gettext_noop("Field filters"), gettext_noop("Submit"))


class PredictionRequestFilter(django_filters.FilterSet):
    # Labels and help, lazily in the reader's language: the browsable API's filter form shows
    # them, and the schema describes the query parameters with them.
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"))
    accepted = django_filters.BooleanFilter(label=_("Accepted"))
    model_version = django_filters.CharFilter(
        method="filter_model_version",
        label=_("Model version"),
        help_text=_("A version label such as v3 (or just 3)."),
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label=_("Created from"),
        help_text=_("ISO 8601 date and time, inclusive."),
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label=_("Created before"),
        help_text=_("ISO 8601 date and time, exclusive."),
    )
    date = django_filters.DateFilter(
        method="filter_date",
        label=_("Day"),
        help_text=_("A day (YYYY-MM-DD) in the site's time zone."),
    )

    class Meta:
        model = PredictionRequest
        fields = ["channel", "accepted", "model_version", "created_after", "created_before", "date"]

    def filter_model_version(self, queryset, name, value):
        # The version's id first, so that PostgreSQL reads its rows newest first from the
        # (model_version, created_at) index instead of joining every row to its version.
        number = ModelVersion.number_from_label(value)
        version = ModelVersion.objects.filter(number=number).values_list("pk", flat=True).first()
        if number is None or version is None:
            return queryset.none()
        return queryset.filter(model_version_id=version)

    def filter_date(self, queryset, name, value):
        # A range on the created_at index: `created_at__date` converts every row's timestamp.
        start = timezone.make_aware(datetime.combine(value, time.min))
        end = timezone.make_aware(datetime.combine(value + timedelta(days=1), time.min))
        return queryset.filter(created_at__gte=start, created_at__lt=end)
