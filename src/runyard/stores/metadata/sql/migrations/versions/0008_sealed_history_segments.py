"""history: sealed segments (RYS3) store their digits against their chunks' values

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

``history_segments.form`` says what sealing does with a segment: segments of short lines
are rewritten in the sealed form once their lines are all sealed
(runyard.stores.metadata.sql.sealed). Segments written before stay as they are (form 0).
Code of revision 0007 cannot read the sealed form, so the downgrade first turns every sealed
segment back into the plain digit form (it reads the chunks, which are still there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runyard.stores.metadata.sql import sealed

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history_segments") as batch_op:
        batch_op.add_column(sa.Column("form", sa.SmallInteger(), server_default="0",
                                      nullable=False))


def downgrade() -> None:
    bind = op.get_bind()
    table = sa.table("history_segments", sa.column("run_id"), sa.column("form"))
    run_ids = bind.execute(sa.select(table.c.run_id).distinct()
                           .where(table.c.form == sealed.SEALED)).scalars().all()
    for run_id in sorted(int(r) for r in run_ids):
        sealed.unseal(bind, run_id, 0)
    with op.batch_alter_table("history_segments") as batch_op:
        batch_op.drop_column("form")
