"""Routes of the earlier implementation, kept for clients written against it."""

urlpatterns = []
