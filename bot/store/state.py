"""Per-source state (cursors, ETags) and the run log that `midlist status` reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from bot.store.db import Database
from bot.store.engine import insert_for
from bot.store.schema import runs, source_state
from bot.store.times import from_db, now


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    kind: str
    target: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    detail: str


class StateRepo:
    def __init__(self, db: Database):
        self._db = db

    def get(self, source: str) -> dict[str, str]:
        with self._db.connect() as conn:
            rows = conn.execute(
                select(source_state.c.key, source_state.c.value).where(
                    source_state.c.source == source
                )
            )
            return {k: v for k, v in rows}

    def put(self, source: str, values: dict[str, str], conn: Connection | None = None) -> None:
        """Replace the given keys; written in the caller's transaction with the papers they describe."""
        if conn is None:
            with self._db.begin() as own:
                return self.put(source, values, own)
        if not values:
            return None
        stamp = now()
        insert = insert_for(conn, source_state)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["source", "key"],
                set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
            ),
            [
                {"source": source, "key": k, "value": v, "updated_at": stamp}
                for k, v in sorted(values.items())
            ],
        )
        return None

    def start_run(self, kind: str, target: str) -> int:
        with self._db.begin() as conn:
            insert = runs.insert().values(kind=kind, target=target, started_at=now(), detail="")
            return int(conn.execute(insert.returning(runs.c.id)).scalar_one())

    def finish_run(self, run_id: int, ok: bool, detail: str = "") -> None:
        with self._db.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(finished_at=now(), ok=ok, detail=detail)
            )

    def last_runs(self, kind: str | None = None) -> list[Run]:
        """The newest run per (kind, target)."""
        newest = select(func.max(runs.c.id)).group_by(runs.c.kind, runs.c.target)
        if kind:
            newest = newest.where(runs.c.kind == kind)
        with self._db.connect() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.id.in_(newest)).order_by(runs.c.kind, runs.c.target)
            )
            return [_run(r) for r in rows]

    def recent_failures(self, limit: int = 10) -> list[Run]:
        with self._db.connect() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.ok.is_(False)).order_by(runs.c.id.desc()).limit(limit)
            )
            return [_run(r) for r in rows]


def _run(r) -> Run:  # type: ignore[no-untyped-def]
    return Run(
        r.id, r.kind, r.target, from_db(r.started_at), from_db(r.finished_at), r.ok, r.detail
    )
