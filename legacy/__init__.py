"""Routes of the earlier implementation (``/api/marketplace/...``, ``/api/team/...``,
``/api/improve/...``, ``/api/dashboard/agents``), adapted onto the v1 services and selectors.

Everything that exists only for these routes lives here: to retire them, delete this folder and
its line in ``INSTALLED_APPS`` and in ``crucible/urls.py``. No other app imports from it.
"""
