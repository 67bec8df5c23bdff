"""projects, project_entries, project_attempts, dnc_numbers, scripts: outbound projects

Attempts join the call record by linkedid: nothing is added to `calls`.

Revision ID: 0010_outbound
Revises: 0007_desk
Create Date: 2026-12-04 18:55:29.652189
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_outbound'
down_revision = '0009_reports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='draft', nullable=False),
    sa.Column('mode', sa.String(length=16), server_default='preview', nullable=False),
    sa.Column('caller_id', sa.String(length=32), nullable=True),
    sa.Column('script_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    sa.Column('retry_busy', sa.Integer(), nullable=True),
    sa.Column('retry_no_answer', sa.Integer(), nullable=True),
    sa.Column('retry_congestion', sa.Integer(), nullable=True),
    sa.Column('retry_failed', sa.Integer(), nullable=True),
    sa.Column('max_attempts', sa.Integer(), server_default='3', nullable=False),
    sa.Column('hours_start', sa.Integer(), server_default='540', nullable=False),
    sa.Column('hours_end', sa.Integer(), server_default='1260', nullable=False),
    sa.Column('ring_seconds', sa.Integer(), server_default='30', nullable=False),
    sa.Column('wrapup_seconds', sa.Integer(), server_default='60', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('scripts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scripts')),
    sa.UniqueConstraint('name', name=op.f('uq_scripts_name'))
    )
    op.create_table('dnc_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_dnc_numbers_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dnc_numbers')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_dnc_numbers_project_id_number'))
    )
    with op.batch_alter_table('dnc_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dnc_numbers_number'), ['number'], unique=False)

    op.create_table('project_agents',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('agent', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_agents_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'agent', name=op.f('pk_project_agents'))
    )
    with op.batch_alter_table('project_agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_agents_agent'), ['agent'], unique=False)

    op.create_table('project_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=160), nullable=True),
    sa.Column('fields', sa.JSON(), server_default='{}', nullable=False),
    sa.Column('timezones', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_result', sa.String(length=24), nullable=True),
    sa.Column('disposition', sa.String(length=40), nullable=True),
    sa.Column('success', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_agent', sa.String(length=80), nullable=True),
    sa.Column('skip_reason', sa.String(length=200), nullable=True),
    sa.Column('held_by', sa.String(length=80), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_entries_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_entries')),
    sa.UniqueConstraint('project_id', 'phone', name=op.f('uq_project_entries_project_id_phone'))
    )
    with op.batch_alter_table('project_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_entries_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_project_entries_due', ['project_id', 'state', 'next_at', 'id'], unique=False)
        batch_op.create_index('ix_project_entries_email', ['project_id', 'email'], unique=False)

    op.create_table('queue_scripts',
    sa.Column('queue', sa.String(length=80), nullable=False),
    sa.Column('script_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['script_id'], ['scripts.id'], name=op.f('fk_queue_scripts_script_id_scripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('queue', name=op.f('pk_queue_scripts'))
    )
    op.create_table('script_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('linkedid', sa.String(length=64), nullable=False),
    sa.Column('script_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=60), nullable=True),
    sa.Column('agent', sa.String(length=80), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['script_id'], ['scripts.id'], name=op.f('fk_script_runs_script_id_scripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_script_runs')),
    sa.UniqueConstraint('linkedid', name=op.f('uq_script_runs_linkedid'))
    )
    op.create_table('script_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('script_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('author', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['script_id'], ['scripts.id'], name=op.f('fk_script_versions_script_id_scripts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_script_versions')),
    sa.UniqueConstraint('script_id', 'version', name=op.f('uq_script_versions_script_id_version'))
    )
    op.create_table('project_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('linkedid', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=80), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=24), nullable=True),
    sa.Column('disposition', sa.String(length=40), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['project_entries.id'], name=op.f('fk_project_attempts_entry_id_project_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_attempts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_attempts')),
    sa.UniqueConstraint('entry_id', 'attempt', name=op.f('uq_project_attempts_entry_id_attempt')),
    sa.UniqueConstraint('linkedid', name=op.f('uq_project_attempts_linkedid'))
    )
    with op.batch_alter_table('project_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_attempts_agent'), ['agent'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_attempts_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_attempts_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_attempts_result'), ['result'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_attempts_started_at'), ['started_at'], unique=False)

    op.create_table('script_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=60), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['script_runs.id'], name=op.f('fk_script_answers_run_id_script_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_script_answers')),
    sa.UniqueConstraint('run_id', 'step', name=op.f('uq_script_answers_run_id_step'))
    )
    with op.batch_alter_table('script_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_script_answers_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('script_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_script_answers_run_id'))

    op.drop_table('script_answers')
    with op.batch_alter_table('project_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_attempts_started_at'))
        batch_op.drop_index(batch_op.f('ix_project_attempts_result'))
        batch_op.drop_index(batch_op.f('ix_project_attempts_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_attempts_entry_id'))
        batch_op.drop_index(batch_op.f('ix_project_attempts_agent'))

    op.drop_table('project_attempts')
    op.drop_table('script_versions')
    op.drop_table('script_runs')
    op.drop_table('queue_scripts')
    with op.batch_alter_table('project_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_project_entries_email')
        batch_op.drop_index('ix_project_entries_due')
        batch_op.drop_index(batch_op.f('ix_project_entries_contact_id'))

    op.drop_table('project_entries')
    with op.batch_alter_table('project_agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_agents_agent'))

    op.drop_table('project_agents')
    with op.batch_alter_table('dnc_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dnc_numbers_number'))

    op.drop_table('dnc_numbers')
    op.drop_table('scripts')
    op.drop_table('projects')
