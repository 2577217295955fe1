"""Several nodes: runs.node (which node ran it) and persisted batches (any node reads them, a restart keeps them).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("node", sa.Text))
    op.create_index("runs_node", "runs", ["node", "status"])
    op.create_table(
        "batches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("lesson", sa.Text),
        sa.Column("room", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("runs", sa.Text, nullable=False),
        sa.Column("refused", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("batches")
    op.drop_index("runs_node", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("node")
