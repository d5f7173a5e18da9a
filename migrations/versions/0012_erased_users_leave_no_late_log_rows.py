"""Erased users leave no late log rows: a row for one is dropped as it is inserted

Revision ID: 0012
Revises: 0011

SPEC section 13: once a user is erased, their id appears in no answer. The erasure deletes
their rows, but rows can still arrive for them afterwards: an LLM call a worker had in flight
logs its attempt when it ends, and rows waiting in a spool land when it drains. `erased_users`
keeps the ids of erased users (nothing else of them), and a BEFORE INSERT row trigger on the
log drops a row whose user is in it, whoever writes it: the service, a spool replay, a COPY.

A row checked just before an erasure commits its id, and committed just after the erasure
deleted the user's rows, would still stay. So the trigger holds a shared advisory lock
(ERASURE_LOCK_KEY) until its transaction ends, and the erasure takes it exclusively to add the
id: it waits for every insert in progress to commit (its rows are then there to be deleted),
and an insert that starts meanwhile waits for the id to be committed, then sees it.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# pg_advisory_xact_lock key: "llm_call_logs erasure" (webapp.services.erasure takes it too).
ERASURE_LOCK_KEY = 0x11C_0E5A


def upgrade():
    op.create_table('erased_users',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_erased_users')),
    )
    op.execute(f"""
        CREATE FUNCTION llm_call_logs_skip_erased() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared({ERASURE_LOCK_KEY});
            IF EXISTS (SELECT 1 FROM erased_users WHERE user_id = NEW.user_id) THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER llm_call_logs_skip_erased BEFORE INSERT ON llm_call_logs
        FOR EACH ROW EXECUTE FUNCTION llm_call_logs_skip_erased()
    """)


def downgrade():
    op.execute('DROP TRIGGER llm_call_logs_skip_erased ON llm_call_logs')
    op.execute('DROP FUNCTION llm_call_logs_skip_erased()')
    op.drop_table('erased_users')
