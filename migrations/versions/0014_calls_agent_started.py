"""calls (agent, started_at): an agent's latest calls straight from an index

An agent's transcript search walks their calls newest first and stops at its limit; by the
agent alone it read every call the agent ever took (5,000 in the bench) to sort them.

Revision ID: 0014_calls_agent_started
Revises: 0013_outbox_staged
"""

from alembic import op


revision = '0014_calls_agent_started'
down_revision = '0013_outbox_staged'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_calls_agent_started_at', 'calls', ['agent', 'started_at'])


def downgrade() -> None:
    op.drop_index('ix_calls_agent_started_at', table_name='calls')
