"""DRF's content negotiation, decided once per process for each kind of request (issue 16)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers come from clients: past this many different ones, new ones are not remembered.
_MAX_REMEMBERED = 1000


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's ``DefaultContentNegotiation``, remembering its choice for each (view's renderer
    classes, format asked for, ``Accept`` header): the same three always give the same renderer
    and media type, and parsing and matching the header was a fortieth of a small API call. A
    request that DRF refuses (406, or 404 for an unknown format) is not remembered, so it is
    refused again the same way."""

    _chosen: dict[tuple, tuple[int, str]] = {}

    def select_renderer(self, request, renderers, format_suffix=None):
        format_ = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (tuple(type(renderer) for renderer in renderers), format_, request.META.get("HTTP_ACCEPT"))
        chosen = self._chosen.get(key)
        if chosen is not None:
            return renderers[chosen[0]], chosen[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        if len(self._chosen) < _MAX_REMEMBERED:
            self._chosen[key] = (renderers.index(renderer), media_type)
        return renderer, media_type
