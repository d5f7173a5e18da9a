"""Duration buckets found by a binary search in their floors, not by a numeric ln()

Revision ID: 0013
Revises: 0012

llm_duration_bucket (0004) took a numeric ln() per row: about 4 µs, computed for every log
row by the rollup triggers (three times: one user's day, and the model's hour and day) and by
every fold. The same buckets are now found by width_bucket() in the array of their floors
(the first whole millisecond of bucket k is 128 × 1.015^k rounded up, 1.015 = 203/200, so
the floors are exact integers), as the reads' raw edges already find them. It gives the
same bucket for every integer duration, so rollup rows written before this migration stay
right; tests/test_log_rollups.py checks both forms at every floor and the millisecond before it.

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

EXACT_BELOW_MS = 128
MAX_DURATION_MS = 2**31 - 1  # duration_ms is an integer column


def _floors():
    # webapp.services.log_rollups.BUCKET_FLOORS, written out again: a migration stays as it
    # was run, whatever the app's code becomes.
    floors, k = [], 0
    while True:
        floor_ms = -(-EXACT_BELOW_MS * 203**k // 200**k)
        if floor_ms > MAX_DURATION_MS:
            return floors
        floors.append(floor_ms)
        k += 1


def upgrade():
    floors = "{" + ",".join(str(floor) for floor in _floors()) + "}"
    op.execute(f"""
        CREATE OR REPLACE FUNCTION llm_duration_bucket(duration_ms integer) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN duration_ms < {EXACT_BELOW_MS} THEN duration_ms
                        ELSE {EXACT_BELOW_MS - 1} + width_bucket(duration_ms, '{floors}'::integer[])
                   END
        $$
    """)


def downgrade():
    op.execute("""
        CREATE OR REPLACE FUNCTION llm_duration_bucket(duration_ms integer) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN duration_ms < 128 THEN duration_ms
                        ELSE 128 + floor(ln(duration_ms / 128.0) / ln(1.015))::integer END
        $$
    """)
