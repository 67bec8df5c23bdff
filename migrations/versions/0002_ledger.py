"""ledger: positions read in CEL and queue_log, evidence and consent on call records

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_positions',
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('device', sa.BigInteger(), nullable=False),
        sa.Column('inode', sa.BigInteger(), nullable=False),
        sa.Column('offset', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('source', name=op.f('pk_ledger_positions')),
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_unknown', sa.Boolean(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('evidence', sa.Integer(), server_default='2',
                                      nullable=False))
    # records recovered after a gap (queue_log/CDR, end inferred) were the weakest evidence
    op.execute("UPDATE calls SET evidence = 1 WHERE end_inferred")


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('evidence')
        batch_op.drop_column('consent_unknown')
    op.drop_table('ledger_positions')
