from rest_framework import serializers


class StrictFieldsMixin:
    """Reject fields the serializer does not know (a typo such as ``qualty`` must not be
    silently ignored). Read-only fields sent by the client are ignored, as DRF does."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields)
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class TeamRefField(serializers.SlugRelatedField):
    """A team by slug, limited to the teams the caller can read."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        super().__init__(**kwargs)

    def get_queryset(self):
        from crucible.access import readable_team_ids
        from crucible.models import Team

        request = self.context.get("request")
        return Team.objects.filter(pk__in=readable_team_ids(request)) if request else Team.objects.none()
