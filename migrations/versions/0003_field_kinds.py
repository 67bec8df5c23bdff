"""card fields get a declared kind (the data policy)

Revision ID: 0003_field_kinds
Revises: 0002

Fields marked agent-visible before kinds existed keep no kind: undeclared, so hidden from
agents until an admin declares them (PUT /admin/card-fields).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_field_kinds"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_fields") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_fields") as batch:
        batch.drop_column("kind")
