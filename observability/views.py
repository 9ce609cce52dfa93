from django.views.generic import TemplateView

from crucible.pages import TeamPageMixin


class IndexView(TeamPageMixin, TemplateView):
    template_name = "observability/index.html"
