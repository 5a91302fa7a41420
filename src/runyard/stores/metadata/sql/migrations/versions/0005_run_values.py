"""run search: scalar config and summary values of every run

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    op.create_table(
        "run_values",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column(
            "path",
            sa.String(length=255)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255),
                          "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255),
                          "mysql"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("num_value", sa.Double(), nullable=True),
        sa.Column(
            "str_value",
            sa.Text()
            .with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_values_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "scope", "path", name=op.f("pk_run_values")),
    )
    _backfill()


def _backfill() -> None:
    """Index the config and summary of the runs that exist already."""
    from runyard.stores.metadata.sql.run_search import value_rows

    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id", sa.Integer()), sa.column("config", sa.Text()),
                    sa.column("summary", sa.Text()))
    values = sa.table("run_values", sa.column("run_id"), sa.column("scope"),
                      sa.column("path"), sa.column("kind"), sa.column("num_value"),
                      sa.column("str_value"))
    last = -1
    while True:
        batch = conn.execute(
            sa.select(runs.c.id, runs.c.config, runs.c.summary)
            .where(runs.c.id > last).order_by(runs.c.id).limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for run_id, config, summary in batch:
            rows += value_rows(run_id, "config", config)
            rows += value_rows(run_id, "summary", summary)
        if rows:  # the columns of this revision only (later ones add columns)
            conn.execute(sa.insert(values), [{c.name: r[c.name] for c in values.columns}
                                             for r in rows])
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_table("run_values")
