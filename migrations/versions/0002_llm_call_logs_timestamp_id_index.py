"""llm_call_logs: indexes for the admin listing, its keyset pages, failures and time windows

Revision ID: 0002
Revises: 0001

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # CONCURRENTLY, so a deployment with a large log table keeps writing logs while the indexes
    # build; that cannot run inside a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        op.create_index(
            'idx_llm_logs_timestamp_id',
            'llm_call_logs',
            [sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.create_index(
            'idx_llm_logs_failed',
            'llm_call_logs',
            [sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')],
            postgresql_where=sa.text('NOT success'),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade():
    with op.get_context().autocommit_block():
        for name in ('idx_llm_logs_failed', 'idx_llm_logs_timestamp_id'):
            op.drop_index(name, table_name='llm_call_logs', postgresql_concurrently=True,
                          if_exists=True)
