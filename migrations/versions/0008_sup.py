"""queue_settings (targets and alarm thresholds per queue), display_tokens (TV wallboards)

Revision ID: 0008_sup
Revises: 0005_ledger_tables
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_sup'
down_revision = '0007_desk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'queue_settings',
        sa.Column('queue', sa.String(80), primary_key=True),
        sa.Column('service_level_seconds', sa.Integer(), nullable=False),
        sa.Column('service_level_target', sa.Float(), nullable=False),
        sa.Column('waiting_amber', sa.Integer(), nullable=False),
        sa.Column('waiting_red', sa.Integer(), nullable=False),
        sa.Column('longest_wait_amber', sa.Integer(), nullable=False),
        sa.Column('longest_wait_red', sa.Integer(), nullable=False),
        sa.Column('service_level_amber', sa.Float(), nullable=False),
        sa.Column('service_level_red', sa.Float(), nullable=False),
        sa.Column('abandoned_amber', sa.Float(), nullable=False),
        sa.Column('abandoned_red', sa.Float(), nullable=False),
        sa.Column('sound_on_red', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(80), nullable=False),
    )
    op.create_table(
        'display_tokens',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(80), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('display_tokens')
    op.drop_table('queue_settings')
