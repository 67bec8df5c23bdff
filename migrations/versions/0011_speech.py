"""speech analytics: speech_jobs, transcripts (full-text indexed in Russian and English on
PostgreSQL), qa_rules, qa_flags, qa_reviews

Revision ID: 0011_speech
Revises: 0005_ledger_tables
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_speech'
down_revision = '0010_outbound'
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'speech_jobs',
        sa.Column('recording_id', sa.Integer(),
                  sa.ForeignKey('recordings.id', ondelete='CASCADE',
                                name='fk_speech_jobs_recording_id_recordings'),
                  primary_key=True),
        sa.Column('linkedid', sa.String(64), nullable=False, index=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('engine', sa.String(40), nullable=False),
        sa.Column('error', sa.String(400), nullable=True),
        sa.Column('audio_seconds', sa.Float(), nullable=True),
        sa.Column('finished_at', _TIME, nullable=False),
    )
    op.create_table(
        'transcripts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('recording_id', sa.Integer(),
                  sa.ForeignKey('recordings.id', ondelete='CASCADE',
                                name='fk_transcripts_recording_id_recordings'),
                  nullable=False, index=True),
        sa.Column('linkedid', sa.String(64), nullable=False, index=True),
        sa.Column('speaker', sa.String(16), nullable=False),
        sa.Column('language', sa.String(8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('words', sa.JSON(), nullable=False),
        sa.Column('created_at', _TIME, nullable=False, index=True),
    )
    if op.get_bind().dialect.name == 'postgresql':
        # what the search matches (callcenter/speech/service.py): the text stemmed both ways,
        # stored (not recomputed per row when the newest transcripts are walked for a common
        # word) and GIN-indexed (rare words)
        op.execute("ALTER TABLE transcripts ADD COLUMN search_vector tsvector GENERATED ALWAYS "
                   "AS (to_tsvector('russian'::regconfig, text) || "
                   "to_tsvector('english'::regconfig, text)) STORED")
        op.execute("CREATE INDEX ix_transcripts_search_vector ON transcripts "
                   "USING gin (search_vector)")
    op.create_table(
        'qa_rules',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('queue', sa.String(80), nullable=True, index=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('phrase', sa.String(200), nullable=False),
        sa.Column('language', sa.String(8), nullable=False),
        sa.Column('speaker', sa.String(16), nullable=False),
        sa.Column('within_seconds', sa.Float(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', _TIME, nullable=False),
    )
    op.create_table(
        'qa_flags',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('recording_id', sa.Integer(),
                  sa.ForeignKey('recordings.id', ondelete='CASCADE',
                                name='fk_qa_flags_recording_id_recordings'),
                  nullable=False, index=True),
        sa.Column('linkedid', sa.String(64), nullable=False, index=True),
        sa.Column('rule_id', sa.Integer(),
                  sa.ForeignKey('qa_rules.id', ondelete='SET NULL',
                                name='fk_qa_flags_rule_id_qa_rules'), nullable=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('phrase', sa.String(200), nullable=False),
        sa.Column('speaker', sa.String(16), nullable=False),
        sa.Column('agent', sa.String(80), nullable=True, index=True),
        sa.Column('queue', sa.String(80), nullable=True),
        sa.Column('at_seconds', sa.Float(), nullable=True),
        sa.Column('said', sa.String(400), nullable=True),
        sa.Column('created_at', _TIME, nullable=False, index=True),
    )
    op.create_table(
        'qa_reviews',
        sa.Column('linkedid', sa.String(64), primary_key=True),
        sa.Column('reviewed', sa.Boolean(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('exemplary', sa.Boolean(), nullable=False),
        sa.Column('note', sa.String(2000), nullable=True),
        sa.Column('reviewed_by', sa.String(80), nullable=False),
        sa.Column('reviewed_at', _TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('qa_reviews')
    op.drop_table('qa_flags')
    op.drop_table('qa_rules')
    op.drop_table('transcripts')
    op.drop_table('speech_jobs')
