"""history: lines stored as compressed segments instead of one row per line; the sealing
watermark kept on the run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Every stored line moves, text for text, into ``history_segments`` (4,096 lines a segment),
and ``series_watermarks`` becomes ``runs.sealed_lines``; the downgrade moves them back.
String config and summary values get a 64-bit hash, and run values two indexes (filters
start from the value).
``runs.write_token`` tells a server whether it wrote a run last.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from runyard.history import segments

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LINES = 4096
_RunId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "history_segments",
        sa.Column("run_id", _RunId, nullable=False),
        sa.Column("start_line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("end_line", sa.Integer(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column(
            "data",
            sa.LargeBinary()
            .with_variant(mysql.LONGBLOB(), "mariadb")
            .with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"],
                                name=op.f("fk_history_segments_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "start_line", name=op.f("pk_history_segments")),
    )
    bind = op.get_bind()
    rows = sa.table("history", sa.column("run_id"), sa.column("line_no"), sa.column("step"),
                    sa.column("runtime"), sa.column("timestamp"), sa.column("data"))
    target = sa.table("history_segments", sa.column("run_id"), sa.column("start_line"),
                      sa.column("end_line"), sa.column("line_count"), sa.column("min_step"),
                      sa.column("max_step"), sa.column("data"))
    run_ids = [int(v) for v in bind.execute(sa.select(rows.c.run_id).distinct()).scalars()]
    for run_id in run_ids:
        after = -1
        while True:
            piece = bind.execute(
                sa.select(rows.c.line_no, rows.c.step, rows.c.runtime, rows.c.timestamp,
                          rows.c.data)
                .where(rows.c.run_id == run_id, rows.c.line_no > after)
                .order_by(rows.c.line_no).limit(_LINES)).all()
            if not piece:
                break
            bind.execute(sa.insert(target), [_segment(run_id, piece)])
            after = int(piece[-1][0])
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_run_step")
    op.drop_table("history")

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_lines", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("write_token", sa.BigInteger(), server_default="0",
                                      nullable=False))
    marks = sa.table("series_watermarks", sa.column("run_id"), sa.column("sealed_lines"))
    runs = sa.table("runs", sa.column("id"), sa.column("sealed_lines"))
    for run_id, sealed in bind.execute(sa.select(marks.c.run_id, marks.c.sealed_lines)).all():
        bind.execute(sa.update(runs).where(runs.c.id == run_id).values(sealed_lines=sealed))
    op.drop_table("series_watermarks")

    with op.batch_alter_table("run_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("str_hash", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_run_values_string", ["scope", "path", "str_hash"],
                              unique=False)
        batch_op.create_index("ix_run_values_number", ["scope", "path", "num_value"],
                              unique=False)
    _hash_strings(bind)


def _hash_strings(bind: Any) -> None:
    """Give the string values that exist already their hash."""
    from runyard.stores.metadata.sql.run_search import str_hash

    values = sa.table("run_values", sa.column("run_id"), sa.column("scope"),
                      sa.column("path"), sa.column("str_value"), sa.column("str_hash"))
    last: tuple[Any, ...] = (-1, "", "")
    while True:
        batch = bind.execute(
            sa.select(values.c.run_id, values.c.scope, values.c.path, values.c.str_value)
            .where(values.c.str_value.is_not(None),
                   sa.tuple_(values.c.run_id, values.c.scope, values.c.path) > last)
            .order_by(values.c.run_id, values.c.scope, values.c.path).limit(_LINES)).all()
        if not batch:
            return
        for run_id, scope, path, text in batch:
            bind.execute(sa.update(values).where(
                values.c.run_id == run_id, values.c.scope == scope, values.c.path == path
            ).values(str_hash=str_hash(text)))
        last = tuple(batch[-1][:3])


def _segment(run_id: int, piece: Any) -> dict[str, Any]:
    steps = [int(r[1]) for r in piece]
    return {
        "run_id": run_id, "start_line": int(piece[0][0]), "end_line": int(piece[-1][0]) + 1,
        "line_count": len(piece), "min_step": min(steps), "max_step": max(steps),
        "data": segments.encode([int(r[0]) for r in piece], steps, [r[2] for r in piece],
                                [r[3] for r in piece], [r[4] for r in piece],
                                level=segments.COMPACT),
    }


def downgrade() -> None:
    op.create_table(
        "series_watermarks",
        sa.Column("run_id", _RunId, nullable=False),
        sa.Column("sealed_lines", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_series_watermarks_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_series_watermarks")),
    )
    runs = sa.table("runs", sa.column("id"), sa.column("sealed_lines"))
    marks = sa.table("series_watermarks", sa.column("run_id"), sa.column("sealed_lines"))
    bind = op.get_bind()
    sealed = bind.execute(sa.select(runs.c.id, runs.c.sealed_lines)
                          .where(runs.c.sealed_lines > 0)).all()
    if sealed:
        bind.execute(sa.insert(marks), [{"run_id": r, "sealed_lines": n} for r, n in sealed])
    with op.batch_alter_table("run_values", schema=None) as batch_op:
        batch_op.drop_index("ix_run_values_number")
        batch_op.drop_index("ix_run_values_string")
        batch_op.drop_column("str_hash")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("write_token")
        batch_op.drop_column("sealed_lines")

    op.create_table(
        "history",
        sa.Column("run_id", _RunId, nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("runtime", sa.Double(), nullable=True),
        sa.Column("timestamp", sa.Double(), nullable=True),
        sa.Column(
            "data",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_history_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "line_no", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_run_step", ["run_id", "step"], unique=False)
    source = sa.table("history_segments", sa.column("run_id"), sa.column("start_line"),
                      sa.column("data"))
    rows = sa.table("history", sa.column("run_id"), sa.column("line_no"), sa.column("step"),
                    sa.column("runtime"), sa.column("timestamp"), sa.column("data"))
    keys = bind.execute(sa.select(source.c.run_id, source.c.start_line)).all()
    for run_id, start in keys:
        blob = bind.execute(sa.select(source.c.data).where(
            source.c.run_id == run_id, source.c.start_line == start)).scalar_one()
        where = segments.positions(blob)
        texts = segments.texts(blob)
        bind.execute(sa.insert(rows), [
            {"run_id": run_id, "line_no": line, "step": step,
             "runtime": rt if has_rt else None, "timestamp": ts if has_ts else None,
             "data": text}
            for line, step, rt, has_rt, ts, has_ts, text in zip(
                where.line_nos.tolist(), where.steps.tolist(), where.runtimes.tolist(),
                where.has_runtime.tolist(), where.timestamps.tolist(),
                where.has_timestamp.tolist(), texts, strict=True)])
    op.drop_table("history_segments")
