"""The operators' admin: edit route overrides and the site-wide upload settings (one row, one
page; sizes in human units), see every route's effective policy with the source of each value,
and read rejection counts per route, reason and day."""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from django_expect import stats
from django_expect.core import PolicyError, format_size, parse_size
from django_expect.models import (
    GroupLimit,
    PolicyOverride,
    RejectionCount,
    SizeHistogram,
    UploadSettings,
)
from django_expect.overrides import load_overrides
from django_expect.routes import describe_routes, reachable_routes, unknown_override_routes


class SizeField(forms.CharField):
    """A byte count typed in human units: ``10MB``, ``10 MiB``, ``1.5GB`` or plain bytes."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return format_size(value).replace(" bytes", "").replace(" ", "")
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_size(text)
        except PolicyError as error:
            raise ValidationError(str(error)) from None


def _route_choices(current: str | None) -> list[tuple[str, str]]:
    names: dict[str, str] = {}
    routes = reachable_routes()
    for route in routes:
        names.setdefault(route.name, f"{route.name}  ({route.view})")
    for route in routes:
        names.setdefault(route.view, f"{route.view}  (every route of this view)")
    if current and current not in names:
        names[current] = f"{current}  (unknown route)"
    return [("", "---------"), *sorted(names.items())]


class PolicyOverrideForm(forms.ModelForm):  # type: ignore[type-arg]
    max_size = SizeField(
        required=False,
        help_text="e.g. 10MB (10,000,000 bytes) or 10MiB (10,485,760 bytes); empty: keep the "
        "code's limit.",
    )

    class Meta:
        model = PolicyOverride
        fields = (
            "route",
            "max_size",
            "content_types",
            "expect",
            "login_required",
            "permission",
            "body_timeout",
            "report_only",
            "min_rate",
            "disabled",
            "note",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.route if self.instance.pk else None
        self.fields["route"] = forms.ChoiceField(
            choices=_route_choices(current),
            help_text=PolicyOverride._meta.get_field("route").help_text,
        )


class GroupLimitForm(forms.ModelForm):  # type: ignore[type-arg]
    max_size = SizeField(
        required=False, help_text="e.g. 1GB; empty: the route's (or another group's)."
    )

    class Meta:
        model = GroupLimit
        fields = ("group", "max_size", "no_size_limit", "content_types")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if apps.is_installed("django.contrib.auth"):  # pick an existing group: no typos
            from django.contrib.auth.models import Group

            names = list(Group.objects.order_by("name").values_list("name", flat=True))
            current = self.instance.group if self.instance.pk else None
            if current and current not in names:
                names.append(current)
            self.fields["group"] = forms.ChoiceField(
                choices=[("", "---------"), *((name, name) for name in names)],
                help_text=GroupLimit._meta.get_field("group").help_text,
            )


class GroupLimitFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """The group rows of one override or settings page. A POST without the formset's fields
    (a script posting the parent's fields only) leaves the rows as they are, rather than being
    refused as a tampered form."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        total = f"{self.prefix}-TOTAL_FORMS"
        if self.is_bound and total not in self.data:
            data: Any = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
            data[total] = data[f"{self.prefix}-INITIAL_FORMS"] = "0"
            self.data = data


class _GroupLimitInline(admin.TabularInline):  # type: ignore[type-arg]
    """Other limits for user groups; the most permissive matching group wins, per field
    (docs/howto/uploader-limits.md)."""

    model = GroupLimit
    form = GroupLimitForm
    formset = GroupLimitFormSet
    extra = 1
    verbose_name = "limit for a user group"
    verbose_name_plural = (
        "limits for user groups (a member of several gets, per field, the most permissive)"
    )


class OverrideGroupLimitInline(_GroupLimitInline):
    fk_name = "override"


class SettingsGroupLimitInline(_GroupLimitInline):
    fk_name = "settings"


@admin.register(PolicyOverride)
class PolicyOverrideAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PolicyOverrideForm
    inlines = (OverrideGroupLimitInline,)
    list_display = (
        "route",
        "size",
        "content_types",
        "expect",
        "login_required",
        "permission",
        "body_timeout",
        "min_rate",
        "disabled",
        "groups",
        "note",
        "updated",
    )
    search_fields = ("route", "note")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("group_limits")

    @admin.display(description="max size", ordering="max_size")
    def size(self, obj: PolicyOverride) -> str:
        return "" if obj.max_size is None else f"{obj.max_size_display} ({obj.max_size} bytes)"

    @admin.display(description="per group")
    def groups(self, obj: PolicyOverride) -> str:
        return ", ".join(
            f"{row.group} {row.max_size_display or 'route size'}"
            + (f" [{row.content_types}]" if row.content_types else "")
            for row in obj.group_limits.all()
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        overrides = load_overrides()
        entries = describe_routes(overrides)
        prefix = f"{self.admin_site.name}:"
        context = {
            "expect_routes": [e for e in entries if not e.route.name.startswith(prefix)],
            "expect_admin_routes": [e for e in entries if e.route.name.startswith(prefix)],
            "expect_unknown": unknown_override_routes(overrides, entries),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)


class UploadSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    max_size = SizeField(
        required=False,
        help_text="For views without @upload_policy, e.g. 10MB; empty: EXPECT_DEFAULT_POLICY's "
        "max_size.",
    )

    class Meta:
        model = UploadSettings
        fields = (
            "max_size",
            "content_types",
            "login_required",
            "permission",
            "expect",
            "body_timeout",
            "report_only",
            "chunked",
            "drain_seconds",
            "note",
        )


@admin.register(UploadSettings)
class UploadSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row, one page: the list and "add" lead to the row's change page; no delete."""

    form = UploadSettingsForm
    inlines = (SettingsGroupLimitInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # Django's 403
        UploadSettings.objects.get_or_create(pk=1)
        opts = self.model._meta
        name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change"
        return HttpResponseRedirect(reverse(name, args=(1,)))


def _with_report_only(request: HttpRequest, extra_context: dict[str, Any] | None) -> dict[str, Any]:
    """The context of the statistics pages, which link to each other keeping the *report
    only* filter (``expect_report_only``: "1", "0" or "")."""
    value = request.GET.get("report_only__exact", "")
    return {"expect_report_only": value if value in ("0", "1") else "", **(extra_context or {})}


class _StatisticsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The statistics pages: read-only (the server processes write them), each current with
    this process's pending counts, and linked to each other with the report-only filter."""

    date_hierarchy = "day"
    search_fields = ("route",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        stats.buffer.flush()  # this process's pending counts, so the page is current
        return super().changelist_view(request, _with_report_only(request, extra_context))


@admin.register(RejectionCount)
class RejectionCountAdmin(_StatisticsAdmin):
    list_display = ("day", "route", "reason", "status", "report_only", "count")
    list_filter = ("report_only", "reason", "status", "route")


@admin.register(SizeHistogram)
class SizeHistogramAdmin(_StatisticsAdmin):
    """Declared upload sizes per route and day, in fixed buckets (core.SIZE_BUCKETS): every
    upload (reason "all"), and the refused ones by reason; pick a limit from the data."""

    list_display = ("day", "route", "what", "report_only", "count", "mean", "distribution")
    list_filter = ("report_only", "reason", "route")

    @admin.display(description="uploads", ordering="reason")
    def what(self, obj: SizeHistogram) -> str:
        return "all" if not obj.reason else f"refused: {obj.reason}"

    @admin.display(description="mean size")
    def mean(self, obj: SizeHistogram) -> str:
        return format_size(obj.total_bytes // obj.count) if obj.count else "-"

    @admin.display(description="declared sizes (count per bucket)")
    def distribution(self, obj: SizeHistogram) -> str:
        buckets = obj.buckets()
        peak = max((n for _, n in buckets), default=0) or 1
        return format_html(
            '<table class="expect-histogram">{}</table>',
            format_html_join(
                "",
                '<tr><td style="white-space:nowrap">{}</td><td style="text-align:right">{}</td>'
                '<td><span style="display:inline-block;background:#79aec8;height:0.8em;'
                'width:{}px"></span></td></tr>',
                ((label, n, round(120 * n / peak)) for label, n in buckets if n),
            ),
        )
