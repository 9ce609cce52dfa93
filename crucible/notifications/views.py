"""Pages: the caller's inbox, subscriptions, the team's webhooks and their delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from crucible import access
from crucible.lists import FilteredListView, page_of
from crucible.notifications import selectors, services
from crucible.notifications.api import DeliveryFilterSet, NotificationFilterSet
from crucible.notifications.kinds import KIND_CHOICES
from crucible.notifications.models import BodyFormat, Channel, Subscription, Webhook, WebhookDelivery
from crucible.pages import TeamPageMixin

NEW_SECRET_SESSION = "new_webhook_secret"


def _errors_to_messages(request, exc: ValidationError):
    for field, problems in exc.message_dict.items():
        for problem in problems:
            messages.error(request, f"{field}: {problem}")


class InboxView(FilteredListView):
    """The caller's notifications in every team they belong to."""

    template_name = "notifications/inbox.html"
    filterset_class = NotificationFilterSet
    sorts = {"time": ("created_at",)}
    default_ordering = "-time"
    item_name = ("notification", "notifications")
    form_fields = ("unread", "kind")

    def get_queryset(self):
        return selectors.notification_list(user=self.request.user, team_ids=self.readable_team_ids)


class MarkReadView(TeamPageMixin, View):
    """Marks the caller's own notifications read (any role: it changes only their inbox)."""

    write_action = access.READ
    all_of_them = False

    def post(self, request, *args, **kwargs):
        mine = selectors.notification_list(user=request.user, team_ids=self.readable_team_ids)
        if not self.all_of_them:
            wanted = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
            mine = mine.filter(pk__in=wanted)
        ids = list(mine.filter(read_at__isnull=True).values_list("pk", flat=True))
        services.notification_mark_read(user=request.user, ids=ids)
        return redirect("notifications:index")


class SubscriptionView(TeamPageMixin, TemplateView):
    """Your subscription in the active team, and the team's default (admins change it)."""

    template_name = "notifications/subscriptions.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = {row.user_id: row for row in Subscription.objects.filter(team=self.team, user__isnull=True)}
        rows |= {row.user_id: row for row in Subscription.objects.filter(team=self.team, user=self.request.user)}
        context.update(
            mine=rows.get(self.request.user.pk),
            team_default=rows.get(None),
            kinds=KIND_CHOICES,
            channels=Channel.choices,
            is_admin=access.can(self.request, self.team.pk, access.MANAGE),
            can_write=access.can(self.request, self.team.pk, access.WRITE),
        )
        return context

    def post(self, request, *args, **kwargs):
        scope = request.POST.get("scope", "user")
        if scope == "team":
            access.check(request, self.team.pk, access.MANAGE)
        user = None if scope == "team" else request.user
        try:
            services.subscription_set(
                team=self.team,
                user=user,
                kinds=request.POST.getlist("kinds"),
                channels=request.POST.getlist("channels"),
            )
        except ValidationError as exc:
            _errors_to_messages(request, exc)
        else:
            messages.success(request, "Subscription saved.")
        return redirect("notifications:subscriptions")


class WebhookListView(TeamPageMixin, TemplateView):
    template_name = "notifications/webhooks.html"
    write_action = access.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            webhooks=selectors.webhook_list(team_ids=[self.team.pk]),
            new_secret=self.request.session.pop(NEW_SECRET_SESSION, None),
            is_admin=access.can(self.request, self.team.pk, access.MANAGE),
            kinds=KIND_CHOICES,
            formats=BodyFormat.choices,
        )
        return context

    def post(self, request, *args, **kwargs):
        try:
            _, secret = services.webhook_create(
                team=self.team,
                name=request.POST.get("name", ""),
                url=request.POST.get("url", ""),
                kinds=request.POST.getlist("kinds"),
                body_format=request.POST.get("body_format") or BodyFormat.STANDARD,
                created_by=request.user,
            )
        except ValidationError as exc:
            _errors_to_messages(request, exc)
        else:
            # Post/redirect/get; the secret waits in the session for the next page, shown once.
            request.session[NEW_SECRET_SESSION] = secret
        return redirect("notifications:webhooks")


class WebhookPageMixin(TeamPageMixin):
    model = Webhook
    write_action = access.MANAGE

    def object_queryset(self):
        return selectors.webhook_list(team_ids=self.readable_team_ids)


class WebhookDetailView(WebhookPageMixin, TemplateView):
    template_name = "notifications/webhook_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        hook = self.get_object()
        deliveries = DeliveryFilterSet(
            self.request.GET, queryset=selectors.webhook_delivery_list(team_ids=[hook.team_id]).filter(webhook=hook)
        ).qs.order_by("-created_at", "-id")
        context.update(
            webhook=hook,
            listing=page_of(self.request, deliveries, item_name=("delivery", "deliveries")),
            is_admin=access.can(self.request, hook.team_id, access.MANAGE),
            kinds=KIND_CHOICES,
            formats=BodyFormat.choices,
        )
        return context


class WebhookActionView(WebhookPageMixin, View):
    """POST only: ``verb`` is update, enable, disable, test or delete."""

    verb = "update"

    def post(self, request, *args, **kwargs):
        hook = self.get_object()
        try:
            if self.verb == "delete":
                hook.delete()
                messages.success(request, f"Webhook {hook.name} deleted.")
                return redirect("notifications:webhooks")
            if self.verb == "test":
                services.webhook_test_send(webhook=hook)
                messages.success(request, "A test event is on its way; see the log below.")
            elif self.verb in ("enable", "disable"):
                services.webhook_update(webhook=hook, is_active=self.verb == "enable")
            else:
                services.webhook_update(
                    webhook=hook,
                    name=request.POST.get("name", hook.name),
                    url=request.POST.get("url", hook.url),
                    kinds=request.POST.getlist("kinds"),
                    body_format=request.POST.get("body_format", hook.body_format),
                )
                messages.success(request, "Webhook saved.")
        except ValidationError as exc:
            _errors_to_messages(request, exc)
        return redirect("notifications:webhook", pk=hook.pk)


class DeliveryPageMixin(TeamPageMixin):
    model = WebhookDelivery
    team_field = "webhook__team"
    write_action = access.MANAGE

    def object_queryset(self):
        return selectors.webhook_delivery_list(team_ids=self.readable_team_ids)


class DeliveryDetailView(DeliveryPageMixin, TemplateView):
    template_name = "notifications/delivery_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        delivery = self.get_object()
        context.update(
            delivery=delivery,
            log=delivery.log.all(),
            is_admin=access.can(self.request, delivery.webhook.team_id, access.MANAGE),
        )
        return context


class RedeliverView(DeliveryPageMixin, View):
    def post(self, request, *args, **kwargs):
        delivery = self.get_object()
        services.webhook_delivery_redeliver(delivery=delivery)
        messages.success(request, "Redelivery queued (same webhook-id).")
        return redirect("notifications:delivery", pk=delivery.pk)


def unread_count(request) -> int:
    """For the header's bell."""
    return selectors.notification_unread_count(user=request.user, team_ids=access.readable_team_ids(request))
