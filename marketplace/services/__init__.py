"""Marketplace writes: one function per use case, each in a transaction, validating everything
before writing anything. Counters move in the database (F() expressions, row locks, upserts).

One module per topic: ``agents``, ``versions``, ``installs``, ``ratings``, ``reports``, and the
shared checks in ``validation``. Every public name is re-exported here, so
``from marketplace import services`` keeps working.

Contract for other apps (docs/architecture.md): ``version_publish``, ``installation_pin``; the evidence feeds
``version_evidence_record``, ``version_evidence_build_record``, ``version_experiment_record``.
"""

from marketplace.services.agents import (
    AGENT_EDITABLE_FIELDS,
    agent_create,
    agent_set_listed,
    agent_update,
    agent_validate,
)
from marketplace.services.channels import candidate_promote, candidate_publish, candidate_share_set, candidate_yank
from marketplace.services.evidence import (
    evidence_agents_refresh,
    evidence_sharing_set,
    version_evidence_build_record,
    version_evidence_rebuild,
    version_evidence_record,
    version_experiment_record,
)
from marketplace.services.forks import agent_fork
from marketplace.services.installs import (
    agent_install,
    installation_pin,
    installation_uninstall,
    installation_upgrade,
    version_download,
)
from marketplace.services.ratings import rating_delete, rating_set, rating_set_hidden
from marketplace.services.reports import report_action, report_create, report_resolve
from marketplace.services.validation import MAX_TAG_CHARS, clean_tags, parse_version, validate_json_schema
from marketplace.services.versions import refresh_latest_version, version_publish, version_unyank, version_yank

__all__ = [
    "AGENT_EDITABLE_FIELDS",
    "MAX_TAG_CHARS",
    "agent_create",
    "agent_fork",
    "agent_install",
    "agent_set_listed",
    "agent_update",
    "agent_validate",
    "candidate_promote",
    "candidate_publish",
    "candidate_share_set",
    "candidate_yank",
    "clean_tags",
    "installation_pin",
    "evidence_agents_refresh",
    "evidence_sharing_set",
    "installation_uninstall",
    "installation_upgrade",
    "parse_version",
    "rating_delete",
    "rating_set",
    "rating_set_hidden",
    "refresh_latest_version",
    "report_action",
    "report_create",
    "report_resolve",
    "validate_json_schema",
    "version_download",
    "version_evidence_build_record",
    "version_evidence_rebuild",
    "version_evidence_record",
    "version_experiment_record",
    "version_publish",
    "version_unyank",
    "version_yank",
]
