"""outbox_events, outbox_marks, webhook_subscriptions, webhook_deliveries: CRM integration

Revision ID: 0012_hooks
Revises: 0007_desk (merged from branch desk)
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_hooks'
down_revision = '0011_speech'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # SQLite: a rowid alias


def upgrade() -> None:
    op.create_table(
        'outbox_events',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('event_id', sa.String(36), nullable=False),
        sa.Column('type', sa.String(40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('ordering_key', sa.String(80), nullable=False),
        sa.Column('agent', sa.String(80), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_outbox_events'),
        sa.UniqueConstraint('event_id', name='uq_outbox_events_event_id'),
    )
    op.create_index('ix_outbox_events_created_at', 'outbox_events', ['created_at'])
    op.create_index('ix_outbox_events_ordering_key', 'outbox_events', ['ordering_key', 'type'])
    op.create_table(
        'outbox_marks',
        sa.Column('name', sa.String(40), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name='pk_outbox_marks'),
    )
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(2000), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(200), nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('allow_private', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('description', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(80), nullable=False),
        sa.Column('cursor', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_subscriptions'),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.BigInteger(), nullable=False),
        sa.Column('ordering_key', sa.String(80), nullable=False),
        sa.Column('state', sa.String(12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(500), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_deliveries'),
        sa.UniqueConstraint('subscription_id', 'outbox_id',
                            name='uq_webhook_deliveries_subscription_id_outbox_id'),
    )
    op.create_index('ix_webhook_deliveries_line', 'webhook_deliveries',
                    ['subscription_id', 'ordering_key', 'state', 'id'])
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries',
                    ['state', 'next_attempt_at'])
    op.create_index('ix_webhook_deliveries_subscription_id', 'webhook_deliveries',
                    ['subscription_id'])


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_table('outbox_marks')
    op.drop_index('ix_outbox_events_created_at', 'outbox_events')
    op.drop_table('outbox_events')
