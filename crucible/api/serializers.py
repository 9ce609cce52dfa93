from rest_framework import serializers


class StrictFieldsMixin:
    """Reject fields the serializer does not know (a typo such as ``qualty`` must not be
    silently ignored), and numbers or booleans where text belongs (DRF's CharField would turn
    ``{"name": 0.0}`` into ``"0.0"``). Read-only fields sent by the client are ignored, as DRF does."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields)
            errors = {str(key): ["Unknown field."] for key in data if key not in known}
            for name, value in data.items():
                field = self.fields.get(name)
                if (
                    isinstance(field, serializers.CharField)
                    and not field.read_only
                    and value is not None
                    and not isinstance(value, str)
                ):
                    errors[name] = ["Not a valid string."]
            if errors:
                # Report these together with every other field's problem, in one answer.
                try:
                    super().to_internal_value({k: v for k, v in data.items() if k not in errors})
                except serializers.ValidationError as exc:
                    if isinstance(exc.detail, dict):
                        for key, value in exc.detail.items():
                            errors.setdefault(key, value)
                raise serializers.ValidationError(dict(sorted(errors.items())))
        return super().to_internal_value(data)
