"""llm_call_logs: request_id, cached and reasoning tokens, prompt name and version

Revision ID: 0005
Revises: 0004

The second wave's columns of the log record (SPEC §6, §14, §15). Each is nullable, so a row
inserted from outside with the first wave's columns alone is still accepted; adding them to the
partitioned parent adds them to every partition, without rewriting a row.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS = (
    ('request_id', sa.String(length=128)),
    ('cached_tokens', sa.Integer()),
    ('reasoning_tokens', sa.Integer()),
    ('prompt_name', sa.String(length=64)),
    ('prompt_version', sa.Integer()),
)


def upgrade():
    for name, type_ in COLUMNS:
        op.add_column('llm_call_logs', sa.Column(name, type_, nullable=True))


def downgrade():
    for name, _ in reversed(COLUMNS):
        op.drop_column('llm_call_logs', name)
