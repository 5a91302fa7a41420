"""history engine: sealed series chunks and their watermark

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series_chunks",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "key",
            sa.String(length=255)
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mariadb"
            )
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mysql"
            ),
            nullable=False,
        ),
        sa.Column("start_line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("end_line", sa.Integer(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.Column(
            "lod",
            sa.LargeBinary()
            .with_variant(mysql.LONGBLOB(), "mariadb")
            .with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "points",
            sa.LargeBinary()
            .with_variant(mysql.LONGBLOB(), "mariadb")
            .with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_series_chunks_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "key", "start_line", name=op.f("pk_series_chunks")),
    )
    with op.batch_alter_table("series_chunks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_series_chunks_key_step", ["run_id", "key", "first_step"], unique=False
        )

    op.create_table(
        "series_watermarks",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sealed_lines", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_series_watermarks_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_series_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("series_watermarks")
    op.drop_table("series_chunks")
