"""pause_reasons (configurable in the database; the setting is the seed), and on PostgreSQL
statistics on the expression the interval report groups by (quarter hours): told that a month
has ~3,000 groups rather than one per row, the planner aggregates in parallel workers. No new
index: a month's report reads most of the month's rows, which the planner rightly scans (a
covering index was tried in `make bench` and not chosen).

Revision ID: 0009_reports
Revises: 0005_ledger_tables
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_reports'
down_revision = '0008_sup'
branch_labels = None
depends_on = None

# the very expression callcenter.reports.service groups by (QUARTER_HOUR)
_QUARTER_HOUR = ("date_bin(interval '15 minutes', started_at, "
                 "timestamptz '1970-01-01 00:00:00+00')")


def upgrade() -> None:
    op.create_table(
        'pause_reasons',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(80), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.UniqueConstraint('code', name='uq_pause_reasons_code'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE STATISTICS calls_quarter_hour ON ({_QUARTER_HOUR}) FROM calls')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS calls_quarter_hour')
    op.drop_table('pause_reasons')
