"""Marketplace pages (thin: call selectors and services, render)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import FormView, TemplateView

from crucible import access
from crucible.lists import FilteredListView, page_of
from crucible.pages import TeamPageMixin, form_add_service_errors
from marketplace import charts, conf, selectors
from marketplace.diff import version_diff
from marketplace.evidence import agent_search_evidence
from marketplace.filters import AgentFilterSet
from marketplace.forms import (
    AgentCreateForm,
    AgentEditForm,
    RateForm,
    ReportForm,
    VersionCreateForm,
    YankForm,
)
from marketplace.models import Agent, AgentVersion, Installation, Rating
from marketplace.services.agents import agent_create, agent_update, agent_validate
from marketplace.services.forks import agent_fork
from marketplace.services.installs import agent_install, installation_uninstall, installation_upgrade
from marketplace.services.ratings import rating_set
from marketplace.services.reports import report_create
from marketplace.services.versions import version_publish, version_unyank, version_validate, version_yank
from marketplace.views_evidence import evidence_comparison, evidence_context


class IndexView(FilteredListView):
    """Browse and search, with the same FilterSet as the API (its ``sort`` orders the results)."""

    template_name = "marketplace/index.html"
    filterset_class = AgentFilterSet
    per_page = 20
    item_name = ("agent", "agents")

    def get_queryset(self):
        return Agent.objects.all()

    def get_filterset(self, queryset):
        self.filterset = super().get_filterset(queryset)
        return self.filterset

    def paginate(self, queryset):
        # Counts up to a cap ("10,000+ agents"), or not at all when the search knows its count (a
        # text search counted its candidates); invalid filters list nothing.
        search = self.filterset.search() if self.filterset.is_valid() else selectors.AgentSearch(queryset)
        return page_of(
            self.request,
            # The "installed" badges come with the page's rows (and its count): one query for the list.
            selectors.with_installed_version(queryset, team=self.team),
            per_page=self.per_page,
            item_name=self.item_name,
            paginator_class=selectors.CappedPaginator.for_search(search),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        listing = context["listing"]
        for agent in listing:
            agent.search_evidence = agent_search_evidence(agent)
        context["evidence_search_days"] = conf.EVIDENCE_SEARCH_DAYS
        context["searching"] = bool(self.request.GET.get("q"))
        # A text search lists its bounded candidate set; at this size there were more matches.
        context["search_window_full"] = context["searching"] and (listing.total or 0) >= conf.SEARCH_MAX_RESULTS
        context["search_max_results"] = conf.SEARCH_MAX_RESULTS
        return context


class AgentMixin(TeamPageMixin):
    """Pages of one agent: any agent the caller can see; changing it needs write access to the
    agent's team (``TeamPageMixin``)."""

    def object_queryset(self):
        return selectors.agents_visible(team_ids=self.readable_team_ids).select_related("team", "latest_version")

    def get_agent(self) -> Agent:
        return self.get_object()

    def get_own_agent(self) -> Agent:
        # The forms open for the agent's team (any role); saving needs write access, which
        # TeamPageMixin checks on every POST.
        return self.get_object(access.READ)


# Versions the install form suggests (the newest first); the versions table lists them all.
INSTALL_SUGGESTIONS = 20


class AgentDetailView(AgentMixin, TemplateView):
    template_name = "marketplace/agent_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        agent = self.get_agent()
        user = self.request.user
        versions_listing = page_of(
            self.request,
            selectors.versions_ordered(agent=agent).select_related("published_by"),
            per_page=20,
            item_name=("version", "versions"),
            parameter="versions_page",
        )
        stats = selectors.agent_stats(agent=agent)
        installation = (
            Installation.objects.filter(team=self.team, agent=agent)
            .select_related("version", "agent__latest_version")
            .first()
        )
        my_rating = Rating.objects.filter(agent=agent, user=user).first()
        reviews = page_of(
            self.request, selectors.ratings_for_agent(agent=agent), per_page=10, item_name=("review", "reviews")
        )
        is_publisher = access.can(self.request, agent.team_id)
        can_write = access.can(self.request, self.team.pk)
        # The install form (shown to writers while the agent is not installed) suggests the newest
        # versions ((version, yanked) pairs) and takes any other typed in, however many there are.
        installed = bool(installation and installation.is_active)
        install_form = can_write and not installed
        version_options = (
            list(selectors.versions_ordered(agent=agent).values_list("version", "is_yanked")[:INSTALL_SUGGESTIONS])
            if install_form
            else []
        )
        histogram_max = max(stats["histogram"].values()) or 1
        context.update(
            agent=agent,
            version_options=version_options,
            versions_listing=versions_listing,
            stats=stats,
            histogram=[
                (stars, stats["histogram"][str(stars)], round(100 * stats["histogram"][str(stars)] / histogram_max))
                for stars in range(5, 0, -1)
            ],
            chart=charts.installs_chart(stats=stats),
            installation=installation,
            installed=installed,
            install_form=install_form,
            upgrade_available=bool(installation and installation.upgrade_to),
            forks=selectors.forks_of(agent=agent, team_ids=self.readable_team_ids)[:10],
            can_write=can_write,
            is_own=agent.team_id == self.team.pk,
            is_publisher=is_publisher,
            can_rate=installation is not None and agent.team_id != self.team.pk and not is_publisher,
            my_rating=my_rating,
            rate_form=RateForm(initial={"stars": my_rating.stars, "review": my_rating.review} if my_rating else None),
            report_form=ReportForm(),
            reviews=reviews,
            **evidence_context(self.request, version=agent.latest_version, team=self.team),
        )
        return context


class AgentCreateView(TeamPageMixin, FormView):
    template_name = "marketplace/agent_form.html"
    form_class = AgentCreateForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(title="Publish an agent", **kwargs)

    @staticmethod
    def service_data(form) -> dict:
        data = {name: form.cleaned_data.get(name) for name in form.fields}
        data["slug"] = data.get("slug") or None
        data["model_hints"] = data.get("model_hints") or {}
        return data

    def form_invalid(self, form):
        # Every error at once: the service's checks of the fields the form could read, too
        # (a taken slug or an invalid schema must not wait for the next round).
        try:
            agent_validate(team=self.team, **self.service_data(form))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                exc = ValidationError({f: e for f, e in exc.error_dict.items() if f not in form.errors})
                form_add_service_errors(form, exc)
        return super().form_invalid(form)

    def form_valid(self, form):
        data = self.service_data(form)
        try:
            agent = agent_create(team=self.team, created_by=self.request.user, **data)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return super().form_invalid(form)
        messages.success(self.request, f"Published {agent.name} {agent.latest_version.version}.")
        return redirect("marketplace:agent-detail", pk=agent.pk)


class AgentEditView(AgentMixin, FormView):
    template_name = "marketplace/agent_form.html"
    form_class = AgentEditForm

    def get_initial(self):
        agent = self.get_own_agent()
        return {
            "name": agent.name,
            "summary": agent.summary,
            "description": agent.description,
            "category": agent.category,
            "tags": ", ".join(agent.tags),
            "visibility": agent.visibility,
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=f"Edit {self.get_own_agent().name}", **kwargs)

    def form_valid(self, form):
        agent = self.get_own_agent()
        try:
            agent_update(agent=agent, **form.cleaned_data)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Saved.")
        return redirect("marketplace:agent-detail", pk=agent.pk)


class VersionCreateView(AgentMixin, FormView):
    template_name = "marketplace/version_form.html"
    form_class = VersionCreateForm

    def get_initial(self):
        # The new version starts from the latest one's prompt; empty schema and hint boxes keep
        # the latest version's (the service copies them).
        latest = selectors.versions_ordered(agent=self.get_own_agent()).first()
        return {"system_prompt": latest.system_prompt} if latest is not None else {}

    def get_context_data(self, **kwargs):
        agent = self.get_own_agent()
        return super().get_context_data(agent=agent, latest=selectors.versions_ordered(agent=agent).first(), **kwargs)

    @staticmethod
    def service_data(form) -> dict:
        data = {name: form.cleaned_data.get(name) for name in form.fields}
        data["version"] = data.get("version") or None
        return data

    def form_invalid(self, form):
        # Every error at once: the service's checks of the fields the form could read, too
        # (a reused version number must not wait for the next round).
        try:
            version_validate(agent=self.get_own_agent(), **self.service_data(form))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                exc = ValidationError({f: e for f, e in exc.error_dict.items() if f not in form.errors})
                form_add_service_errors(form, exc)
        return super().form_invalid(form)

    def form_valid(self, form):
        agent = self.get_own_agent()
        data = self.service_data(form)
        try:
            version = version_publish(agent=agent, published_by=self.request.user, **data)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Published version {version.version}.")
        return redirect("marketplace:agent-detail", pk=agent.pk)


class InstalledView(TeamPageMixin, TemplateView):
    template_name = "marketplace/installed.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        installations = selectors.installations_for_team(team=self.team)
        show = self.request.GET.get("show", "active")
        if show != "all":
            installations = installations.filter(uninstalled_at__isnull=True)
        listing = page_of(self.request, installations, per_page=25, item_name=("installation", "installations"))
        context.update(listing=listing, show=show)
        return context


class AgentActionView(AgentMixin, View):
    """POST-only actions on the agent page; each redirects back with a message."""

    http_method_names = ["post"]

    def back(self, agent):
        return redirect(reverse("marketplace:agent-detail", args=[agent.pk]))

    def post(self, request, *args, **kwargs):
        agent = self.get_agent()
        try:
            self.act(agent)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        except PermissionDenied as exc:
            messages.error(request, str(exc) or "Not allowed.")
        return self.back(agent)


class InstallView(AgentActionView):
    team_action = True

    def act(self, agent):
        version = self.request.POST.get("version", "").strip() or None
        installation, outcome = agent_install(agent=agent, team=self.team, version=version, user=self.request.user)
        text = {
            "installed": "Installed",
            "reinstalled": "Reinstalled",
            "changed": "Switched to",
            "unchanged": "Already installed:",
        }[outcome]
        messages.success(self.request, f"{text} {agent.name} {installation.version.version}.")


class UpgradeView(AgentActionView):
    team_action = True

    def act(self, agent):
        installation = get_object_or_404(Installation, team=self.team, agent=agent)
        installation = installation_upgrade(installation=installation, version=None)
        messages.success(self.request, f"Upgraded {agent.name} to {installation.version.version}.")


class UninstallView(AgentActionView):
    team_action = True

    def act(self, agent):
        installation = get_object_or_404(Installation, team=self.team, agent=agent)
        installation_uninstall(installation=installation)
        messages.success(self.request, f"Uninstalled {agent.name}.")


class RateView(AgentActionView):
    team_action = True

    def act(self, agent):
        form = RateForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError([f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()])
        rating_set(agent=agent, user=self.request.user, team=self.team, **form.cleaned_data)
        messages.success(self.request, "Thanks, your rating is saved.")


class ReportView(AgentActionView):
    team_action = True

    def act(self, agent):
        form = ReportForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError([f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()])
        rating = None
        if form.cleaned_data.get("rating"):
            rating = Rating.objects.filter(pk=form.cleaned_data["rating"], agent=agent, is_hidden=False).first()
            if rating is None:
                raise Http404("No such review.")
        report_create(
            agent=agent,
            rating=rating,
            reporter=self.request.user,
            team=self.team,
            reason=form.cleaned_data["reason"],
            text=form.cleaned_data["text"],
        )
        messages.success(self.request, "Thanks, the moderators will look at your report.")


class VersionWriteMixin(AgentMixin):
    """Yank and un-yank: a version of the agent of the page. The page opens for the agent's team
    (any role); writing (POST) needs write access to the agent's team, checked by TeamPageMixin
    before the handler runs, so a viewer sees the confirmation page without its form."""

    def get_writable_version(self) -> AgentVersion:
        agent = self.get_own_agent()
        return get_object_or_404(
            AgentVersion.objects.select_related("agent"), agent=agent, pk=self.kwargs["version_pk"]
        )


class YankView(VersionWriteMixin, FormView):
    """A confirmation page: what yanking changes, and the reason (shown to every team)."""

    template_name = "marketplace/version_yank.html"
    form_class = YankForm

    def get_context_data(self, **kwargs):
        version = self.get_writable_version()
        return super().get_context_data(
            version=version,
            agent=version.agent,
            can_write=access.can(self.request, version.agent.team_id),
            pinned_installs=Installation.objects.filter(
                version=version, pinned=True, uninstalled_at__isnull=True
            ).count(),
            **kwargs,
        )

    def form_valid(self, form):
        version = self.get_writable_version()
        try:
            version_yank(version=version, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Version {version.version} yanked. You can undo it on this page.")
        return redirect("marketplace:agent-detail", pk=version.agent_id)


class UnyankView(VersionWriteMixin, AgentActionView):
    """Undo a yank (as PyPI allows): the version can be the default again."""

    def post(self, request, *args, **kwargs):
        version = self.get_writable_version()
        version = version_unyank(version=version)
        messages.success(request, f"Version {version.version} is no longer yanked.")
        return self.back(version.agent)


class ForkView(AgentActionView):
    """Fork into the active team (private; the publisher of the fork can change that)."""

    team_action = True

    def act(self, agent):
        self.fork = agent_fork(agent=agent, team=self.team, created_by=self.request.user)
        messages.success(self.request, f"Forked {agent.name} into {self.team.name}.")

    def back(self, agent):
        fork = getattr(self, "fork", None)
        return super().back(fork or agent)


class VersionDiffView(AgentMixin, TemplateView):
    """Two versions side by side: what changed in the prompt, the schemas and the model hints, and
    the measured evidence of both."""

    template_name = "marketplace/version_diff.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        agent = self.get_agent()
        left, right = self.request.GET.get("from"), self.request.GET.get("to")
        try:
            old, new = selectors.versions_to_compare(agent=agent, team=self.team, left=left, right=right)
        except ValidationError as exc:
            raise Http404(" ".join(exc.messages)) from None
        context.update(
            agent=agent,
            old=old,
            new=new,
            diff=version_diff(old=old, new=new),
            versions=selectors.versions_ordered(agent=agent).only("id", "version", "is_yanked"),
            installation=selectors.installation_for_team(team=self.team, agent=agent),
            **evidence_comparison(self.request, old=old, new=new, team=self.team),
        )
        return context
