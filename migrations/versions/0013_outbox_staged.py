"""outbox_staged: a contact import's events, staged without the outbox's ordering lock

Revision ID: 0013_outbox_staged
Revises: 0012_hooks
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_outbox_staged'
down_revision = '0012_hooks'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # SQLite: a rowid alias


def upgrade() -> None:
    op.create_table(
        'outbox_staged',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('event_id', sa.String(36), nullable=False),
        sa.Column('type', sa.String(40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('ordering_key', sa.String(80), nullable=False),
        sa.Column('agent', sa.String(80), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_outbox_staged'),
    )
    op.create_index('ix_outbox_staged_ordering_key', 'outbox_staged', ['ordering_key'])


def downgrade() -> None:
    op.drop_index('ix_outbox_staged_ordering_key', 'outbox_staged')
    op.drop_table('outbox_staged')
