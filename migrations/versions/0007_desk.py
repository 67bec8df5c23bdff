"""dispositions, wrapup_policies, call_wrapups; callbacks.due_at and assignee

Wrap-ups are kept apart from `calls` so a ledger correction of a call's row never loses them.

Revision ID: 0007_desk
Revises: 0005_ledger_tables
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_desk'
down_revision = '0005_ledger_tables'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dispositions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('scope_key', sa.String(length=80), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=120), nullable=False),
        sa.Column('hotkey', sa.Integer(), nullable=True),
        sa.Column('is_success', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('closes_number', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('retry_after_minutes', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), server_default='0', nullable=False),
        sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispositions')),
        sa.UniqueConstraint('scope', 'scope_key', 'code',
                            name=op.f('uq_dispositions_scope_scope_key_code')),
    )
    op.create_table(
        'wrapup_policies',
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('scope_key', sa.String(length=80), nullable=False),
        sa.Column('required', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('seconds', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('scope', 'scope_key', name=op.f('pk_wrapup_policies')),
    )
    op.create_table(
        'call_wrapups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('linkedid', sa.String(length=64), nullable=False),
        sa.Column('agent', sa.String(length=80), nullable=False),
        sa.Column('disposition_code', sa.String(length=40), nullable=True),
        sa.Column('note', sa.String(length=2000), nullable=True),
        sa.Column('callback_id', sa.Integer(), nullable=True),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_wrapups')),
        sa.UniqueConstraint('linkedid', name=op.f('uq_call_wrapups_linkedid')),
    )
    with op.batch_alter_table('call_wrapups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_wrapups_agent'), ['agent'], unique=False)
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assignee', sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_callbacks_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_assignee'), ['assignee'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_assignee'))
        batch_op.drop_index(batch_op.f('ix_callbacks_due_at'))
        batch_op.drop_column('assignee')
        batch_op.drop_column('due_at')
    with op.batch_alter_table('call_wrapups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_wrapups_agent'))
    op.drop_table('call_wrapups')
    op.drop_table('wrapup_policies')
    op.drop_table('dispositions')
