"""Runs' history versions: (id, history line count) by name, in one cheap query.

A chart request that the cache can answer still has to prove that the cached series are
current, and the line count is the proof (a new history line, written through any replica,
changes it). ``store.get_run`` loads a whole run through an ORM session, about 0.25 ms on
SQLite, once per run; this reads the two columns for every run of the request in one Core
statement (about 0.03 ms), which makes that proof cheap enough for every cached request.

Stores other than the SQL one fall back to ``get_run``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.exc import InterfaceError, OperationalError

from runyard.errors import Unavailable
from runyard.stores.metadata.base import MetadataStore
from runyard.stores.metadata.sql import models as m
from runyard.stores.metadata.sql.store import SqlMetadataStore

#: (run id, history line count) of a run.
Version = tuple[int, int]

_VERSIONS = (
    select(m.Run.name, m.Run.id, m.Run.history_line_count)
    .join(m.Project, m.Project.id == m.Run.project_id)
    .join(m.Entity, m.Entity.id == m.Project.entity_id)
    .where(m.Entity.name == bindparam("entity"), m.Project.name == bindparam("project"),
           m.Run.name.in_(bindparam("names", expanding=True)))
)


def history_versions(store: MetadataStore, entity: str, project: str,
                     names: Sequence[str]) -> dict[str, Version]:
    """The version of each named run that exists (absent names are left out)."""
    if not names:
        return {}
    if not isinstance(store, SqlMetadataStore):
        found: dict[str, Version] = {}
        for name in names:
            record = store.get_run(entity, project, name)
            if record is not None:
                found[name] = (record.id, record.history_line_count)
        return found
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(_VERSIONS, {"entity": entity, "project": project,
                                            "names": list(names)}).all()
    except (OperationalError, InterfaceError) as exc:
        raise Unavailable("the metadata database is unavailable") from exc
    by_name = {str(name): (int(run_id), int(count)) for name, run_id, count in rows}
    return {name: by_name[name] for name in names if name in by_name}
