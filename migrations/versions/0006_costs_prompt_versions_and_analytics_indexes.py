"""Revisions remember the model and prompt that wrote them; indexes for the analytics

Revision ID: 0006
Revises: 0005

`workout_revisions` gains `model`, `prompt_name` and `prompt_version` (SPEC §15: an accept row
carries those of the revision it applies; §8: revisions by model and prompt version), and an
index on `created_at` for the revisions analytics' window. The log table gains indexes for the
costliest and slowest calls (a window's top N read in index order instead of sorting the
window) and for the calls about one workout or plan (`llm_usage`, SPEC §5); created on the
partitioned parent, each exists on every partition.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

REVISION_COLUMNS = (
    ('model', sa.String(length=128)),
    ('prompt_name', sa.String(length=64)),
    ('prompt_version', sa.Integer()),
)


def upgrade():
    for name, type_ in REVISION_COLUMNS:
        op.add_column('workout_revisions', sa.Column(name, type_, nullable=True))
    op.create_index('ix_workout_revisions_created_at', 'workout_revisions', ['created_at'])
    op.create_index('idx_llm_logs_cost', 'llm_call_logs',
                    [sa.literal_column('cost_usd DESC NULLS LAST')])
    op.create_index('idx_llm_logs_duration', 'llm_call_logs',
                    [sa.literal_column('duration_ms DESC NULLS LAST')])
    op.create_index('idx_llm_logs_workout_id', 'llm_call_logs', ['workout_id'],
                    postgresql_where=sa.text('workout_id IS NOT NULL'))
    op.create_index('idx_llm_logs_training_plan_id', 'llm_call_logs', ['training_plan_id'],
                    postgresql_where=sa.text('training_plan_id IS NOT NULL'))


def downgrade():
    for name in ('idx_llm_logs_training_plan_id', 'idx_llm_logs_workout_id',
                 'idx_llm_logs_duration', 'idx_llm_logs_cost'):
        op.drop_index(name, table_name='llm_call_logs')
    op.drop_index('ix_workout_revisions_created_at', table_name='workout_revisions')
    for name, _ in reversed(REVISION_COLUMNS):
        op.drop_column('workout_revisions', name)
