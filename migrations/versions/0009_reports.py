"""pause_reasons (configurable in the database; the setting is the seed) and an index for the
reports: on PostgreSQL it covers every column the interval and agent reports read, so a
month of millions of calls is an index-only range scan.

Revision ID: 0009_reports
Revises: 0005_ledger_tables
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_reports'
down_revision = '0005_ledger_tables'
branch_labels = None
depends_on = None

_REPORT_COLUMNS = ['queue', 'outcome', 'wait_seconds', 'agent', 'talk_seconds']
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
        op.create_index('ix_calls_report', 'calls', ['started_at'],
                        postgresql_include=_REPORT_COLUMNS)
        # the interval report groups by quarter hour (callcenter.reports.service): with
        # statistics on that very expression the planner expects ~3,000 groups a month
        # rather than one per row, and aggregates in parallel workers
        op.execute(f'CREATE STATISTICS calls_quarter_hour ON ({_QUARTER_HOUR}) FROM calls')
    else:
        op.create_index('ix_calls_report', 'calls', ['started_at', *_REPORT_COLUMNS])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS calls_quarter_hour')
    op.drop_index('ix_calls_report', table_name='calls')
    op.drop_table('pause_reasons')
