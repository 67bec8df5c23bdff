"""asterisk_cel, asterisk_queue_log: the ledger of a PBX on another host, written by Asterisk

Asterisk's cel_pgsql and res_config_pgsql (queue_log realtime) insert into these tables, in
the service's own database; the service reads them by id (callcenter/ledger/tables.py).
Columns are named as those modules expect (cel_pgsql.conf, logger.c's queue_log fields);
text, so nothing is truncated. cel_pgsql writes `eventtime` as an epoch with microseconds
into a float column (no time zone involved); queue_log's `time` is a timestamp in UTC
(logger.conf `queue_log_realtime_use_gmt = yes`). Created on SQLite too, where nothing
writes them: the remote path is PostgreSQL-only.

Revision ID: 0005_ledger_tables
Revises: 0004_auth
"""

from alembic import op
import sqlalchemy as sa


revision = '0005_ledger_tables'
down_revision = '0004_auth'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # SQLite: a rowid alias
_CEL_TEXT = ('eventtype', 'userdeftype', 'cid_name', 'cid_num', 'cid_ani', 'cid_rdnis',
             'cid_dnid', 'exten', 'context', 'channame', 'appname', 'appdata', 'accountcode',
             'peeraccount', 'uniqueid', 'linkedid', 'userfield', 'peer', 'extra')


def upgrade() -> None:
    op.create_table(
        'asterisk_cel',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('eventtime', sa.Float(precision=53), nullable=False),
        sa.Column('amaflags', sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Text(), nullable=True) for name in _CEL_TEXT),
    )
    op.create_table(
        'asterisk_queue_log',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('time', sa.DateTime(timezone=False), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=True)
          for name in ('callid', 'queuename', 'agent', 'event',
                       'data1', 'data2', 'data3', 'data4', 'data5')),
    )


def downgrade() -> None:
    op.drop_table('asterisk_queue_log')
    op.drop_table('asterisk_cel')
