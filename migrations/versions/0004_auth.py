"""users.token_epoch: revoking a user's login tokens and WebSocket tickets

Revision ID: 0004_auth
Revises: 0003_field_kinds
"""

from alembic import op
import sqlalchemy as sa


revision = '0004_auth'
down_revision = '0003_field_kinds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_epoch', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_epoch')
