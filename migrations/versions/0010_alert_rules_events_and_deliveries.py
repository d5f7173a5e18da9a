"""alert rules, their events and the events' webhook deliveries

Revision ID: 0010
Revises: 0009

SPEC §18: a rule's state is kept on the rule; each change of state is an event; an event of a
rule with a webhook is delivered by the workers, retried with a doubling backoff.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=True),
    sa.Column('window_minutes', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('webhook_url', sa.String(length=2000), nullable=True),
    sa.Column('state', sa.String(length=16), server_default='ok', nullable=False),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("metric IN ('error_rate', 'p95_duration_ms', 'cost_usd', 'calls')", name=op.f('ck_alert_rules_metric')),
    sa.CheckConstraint("state IN ('ok', 'firing', 'resolved')", name=op.f('ck_alert_rules_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules'))
    )
    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('rule_name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('webhook_url', sa.String(length=2000), nullable=True),
    sa.Column('delivery', sa.String(length=16), server_default='none', nullable=False),
    sa.Column('delivery_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_delivery_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('firing', 'resolved')", name=op.f('ck_alert_events_state')),
    sa.CheckConstraint("delivery IN ('none', 'pending', 'delivered', 'given_up')", name=op.f('ck_alert_events_delivery')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    op.create_index('ix_alert_events_pending_delivery', 'alert_events', ['next_delivery_at'],
                    unique=False, postgresql_where=sa.text("delivery = 'pending'"))


def downgrade():
    op.drop_index('ix_alert_events_pending_delivery', table_name='alert_events',
                  postgresql_where=sa.text("delivery = 'pending'"))
    op.drop_table('alert_events')
    op.drop_table('alert_rules')
