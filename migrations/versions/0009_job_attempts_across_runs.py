"""llm_jobs: attempts numbered across runs, the first enqueue; llm_call_logs: rows by job

Revision ID: 0009
Revises: 0006

`llm_attempts` counts a job's LLM attempts over all its runs (raised atomically as an attempt
starts, so `(job_id, attempt)` never repeats) and `attempt_started_at` keeps when the last one
started, for the `WorkerLost` row of an attempt lost with its worker. `first_enqueued_at` is
the job's first enqueue, which a re-send never moves (`queue_wait_ms` is measured from it).
The partial index on `(job_id, attempt)` finds a job's rows when a run lost with its worker is
taken up again. It cannot be unique: a unique index of a partitioned table must hold the
partition key `timestamp`, so the code (the counter) keeps the pair unique.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('llm_jobs', sa.Column('llm_attempts', sa.Integer(), server_default='0',
                                        nullable=False))
    op.add_column('llm_jobs', sa.Column('attempt_started_at', sa.DateTime(timezone=True),
                                        nullable=True))
    op.add_column('llm_jobs', sa.Column('first_enqueued_at', sa.DateTime(timezone=True),
                                        server_default=sa.text('now()'), nullable=True))
    op.execute('UPDATE llm_jobs SET first_enqueued_at = coalesce(enqueued_at, created_at)')
    op.create_index('idx_llm_logs_job_attempt', 'llm_call_logs', ['job_id', 'attempt'],
                    postgresql_where=sa.text('job_id IS NOT NULL'))


def downgrade():
    op.drop_index('idx_llm_logs_job_attempt', table_name='llm_call_logs')
    op.drop_column('llm_jobs', 'first_enqueued_at')
    op.drop_column('llm_jobs', 'attempt_started_at')
    op.drop_column('llm_jobs', 'llm_attempts')
