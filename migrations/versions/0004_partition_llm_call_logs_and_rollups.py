"""llm_call_logs partitioned by month, call_id, and rollups kept by triggers

Revision ID: 0004
Revises: 0003

The log table becomes a RANGE partitioned table on `timestamp`, one partition a month and a
DEFAULT partition for any other timestamp; every row of the old table is moved over. Rollup
tables are kept exact by statement triggers with transition tables, so an aggregate read from
them equals plain SQL over the rows whatever wrote, changed or removed them.

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Shards of the global rollup: concurrent writers update different rows (by backend pid).
GLOBAL_SHARDS = 8

COLUMNS = """
    id, user_id, endpoint_name, method, "timestamp", duration_ms, success, http_status_code,
    error_message, error_type, request_data, response_summary, llm_operation_type, workout_id,
    training_plan_id, user_agent, ip_address, job_id, model, prompt_tokens, completion_tokens,
    total_tokens, cost_usd, queue_wait_ms, attempt
"""

ENSURE_PARTITION = r"""
CREATE FUNCTION llm_call_logs_ensure_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    lo timestamptz := first::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (first + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    name text := format('llm_call_logs_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Made on its own and then attached: ATTACH PARTITION takes a lock that lets reads and
    -- writes of the log table go on, where CREATE TABLE ... PARTITION OF would stop them.
    EXECUTE format('CREATE TABLE %I (LIKE llm_call_logs INCLUDING DEFAULTS)', name);
    -- Rows of that month that wait in the default partition move into the new one (straight
    -- between partitions, so the rollups, which already count them, stay as they are).
    EXECUTE format(
        'WITH moved AS (DELETE FROM llm_call_logs_default WHERE "timestamp" >= %L'
        ' AND "timestamp" < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, name);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK ("timestamp" >= %L AND "timestamp" < %L)',
                   name, name || '_bounds', lo, hi);
    EXECUTE format('ALTER TABLE llm_call_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   name, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bounds');
    RETURN true;
END $$;
"""

# The rollups' upserts over a relation `{src}` of log rows with a `sign` column: +1 for a row
# that arrived, -1 for one that left. One user's sums are kept per day (per hour they would
# outnumber the rows); everyone's, and the calls per user, per hour and per day. Rows are grouped and sorted by the rollup's key, so
# concurrent writers take the rollup rows' locks in one order.
ROLLUP_UPSERTS = """
INSERT INTO llm_log_rollup_user AS r
    (grain, user_id, bucket, endpoint_name, llm_operation_type, error_type, success,
     calls, duration_count, duration_sum, total_tokens, cost_usd)
SELECT g.grain, c.user_id, date_trunc(g.grain, c."timestamp", 'UTC'), c.endpoint_name,
       c.llm_operation_type, c.error_type, c.success,
       sum(c.sign), coalesce(sum(c.sign) FILTER (WHERE c.duration_ms IS NOT NULL), 0),
       coalesce(sum(c.sign * c.duration_ms), 0), coalesce(sum(c.sign * c.total_tokens), 0),
       coalesce(sum(c.sign * c.cost_usd), 0)
FROM {src} AS c CROSS JOIN (VALUES ('day')) AS g(grain)
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (grain, user_id, bucket, endpoint_name, llm_operation_type, error_type, success)
DO UPDATE SET calls = r.calls + excluded.calls,
              duration_count = r.duration_count + excluded.duration_count,
              duration_sum = r.duration_sum + excluded.duration_sum,
              total_tokens = r.total_tokens + excluded.total_tokens,
              cost_usd = r.cost_usd + excluded.cost_usd;

INSERT INTO llm_log_rollup_user_calls AS r (grain, bucket, user_id, calls)
SELECT g.grain, date_trunc(g.grain, c."timestamp", 'UTC'), c.user_id, sum(c.sign)
FROM {src} AS c CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (grain, bucket, user_id) DO UPDATE SET calls = r.calls + excluded.calls;

INSERT INTO llm_log_rollup_user_durations AS r (grain, user_id, bucket, duration_bucket, calls)
SELECT g.grain, c.user_id, date_trunc(g.grain, c."timestamp", 'UTC'),
       llm_duration_bucket(c.duration_ms), sum(c.sign)
FROM {src} AS c CROSS JOIN (VALUES ('day')) AS g(grain)
WHERE c.duration_ms IS NOT NULL
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (grain, user_id, bucket, duration_bucket) DO UPDATE SET calls = r.calls + excluded.calls;

INSERT INTO llm_log_rollup_global AS r
    (grain, bucket, shard, endpoint_name, llm_operation_type, success,
     calls, duration_count, duration_sum, total_tokens, cost_usd)
SELECT g.grain, date_trunc(g.grain, c."timestamp", 'UTC'), {shard}, c.endpoint_name,
       c.llm_operation_type, c.success,
       sum(c.sign), coalesce(sum(c.sign) FILTER (WHERE c.duration_ms IS NOT NULL), 0),
       coalesce(sum(c.sign * c.duration_ms), 0), coalesce(sum(c.sign * c.total_tokens), 0),
       coalesce(sum(c.sign * c.cost_usd), 0)
FROM {src} AS c CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (grain, bucket, shard, endpoint_name, llm_operation_type, success)
DO UPDATE SET calls = r.calls + excluded.calls,
              duration_count = r.duration_count + excluded.duration_count,
              duration_sum = r.duration_sum + excluded.duration_sum,
              total_tokens = r.total_tokens + excluded.total_tokens,
              cost_usd = r.cost_usd + excluded.cost_usd;
"""

ROLLUP_TABLES = (
    'llm_log_rollup_user', 'llm_log_rollup_user_calls', 'llm_log_rollup_user_durations',
    'llm_log_rollup_global',
)

TRIGGER_SOURCES = {
    'insert': '(SELECT 1 AS sign, * FROM new_rows)',
    'delete': '(SELECT -1 AS sign, * FROM old_rows)',
    'update': '(SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows)',
}
TRIGGER_REFERENCING = {
    'insert': 'REFERENCING NEW TABLE AS new_rows',
    'delete': 'REFERENCING OLD TABLE AS old_rows',
    'update': 'REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows',
}

# Durations bucketed for percentiles: every millisecond below 128 its own bucket, then buckets
# 1.5 % wide, so a bucket's geometric middle is within 0.75 % of any duration in it.
DURATION_BUCKET = """
CREATE FUNCTION llm_duration_bucket(duration_ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN duration_ms < 128 THEN duration_ms
                ELSE 128 + floor(ln(duration_ms / 128.0) / ln(1.015))::integer END
$$;
"""


def _create_rollup_tables():
    money = sa.Numeric()
    counts = lambda: [  # noqa: E731
        sa.Column('calls', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('duration_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('duration_sum', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('total_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('cost_usd', money, server_default='0', nullable=False),
    ]
    op.create_table('llm_log_rollup_user',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('endpoint_name', sa.String(length=255), nullable=False),
    sa.Column('llm_operation_type', sa.String(length=64), nullable=True),
    sa.Column('error_type', sa.String(length=255), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    *counts(),
    sa.UniqueConstraint('grain', 'user_id', 'bucket', 'endpoint_name', 'llm_operation_type',
                        'error_type', 'success', name='uq_llm_log_rollup_user_key',
                        postgresql_nulls_not_distinct=True),
    )
    op.create_table('llm_log_rollup_user_calls',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('grain', 'bucket', 'user_id', name=op.f('pk_llm_log_rollup_user_calls')),
    )
    op.create_table('llm_log_rollup_user_durations',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_bucket', sa.Integer(), nullable=False),
    sa.Column('calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('grain', 'user_id', 'bucket', 'duration_bucket',
                            name=op.f('pk_llm_log_rollup_user_durations')),
    )
    op.create_table('llm_log_rollup_global',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('endpoint_name', sa.String(length=255), nullable=False),
    sa.Column('llm_operation_type', sa.String(length=64), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    *counts(),
    sa.UniqueConstraint('grain', 'bucket', 'shard', 'endpoint_name', 'llm_operation_type',
                        'success', name='uq_llm_log_rollup_global_key',
                        postgresql_nulls_not_distinct=True),
    )


def _create_partitioned_log_table():
    op.execute('ALTER TABLE llm_call_logs RENAME TO llm_call_logs_unpartitioned')
    op.execute('ALTER TABLE llm_call_logs_unpartitioned RENAME CONSTRAINT pk_llm_call_logs'
               ' TO pk_llm_call_logs_unpartitioned')
    for name in ('idx_llm_logs_user_timestamp', 'idx_llm_logs_endpoint',
                 'idx_llm_logs_operation_type', 'idx_llm_logs_timestamp_id', 'idx_llm_logs_failed'):
        op.execute(f'DROP INDEX IF EXISTS {name}')
    # The id sequence outlives the old table and goes on numbering the new one.
    op.execute('ALTER SEQUENCE llm_call_logs_id_seq OWNED BY NONE')
    op.create_table('llm_call_logs',
    sa.Column('id', sa.BigInteger(), server_default=sa.text("nextval('llm_call_logs_id_seq')"), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('endpoint_name', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('http_status_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_type', sa.String(length=255), nullable=True),
    sa.Column('request_data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_summary', sa.String(length=500), nullable=True),
    sa.Column('llm_operation_type', sa.String(length=64), nullable=True),
    sa.Column('workout_id', sa.Integer(), nullable=True),
    sa.Column('training_plan_id', sa.Integer(), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('total_tokens', sa.Integer(), nullable=True),
    sa.Column('cost_usd', sa.Numeric(precision=14, scale=6), nullable=True),
    sa.Column('queue_wait_ms', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.PrimaryKeyConstraint('id', 'timestamp', name=op.f('pk_llm_call_logs')),
    sa.UniqueConstraint('call_id', 'timestamp', name=op.f('uq_llm_call_logs_call_id')),
    postgresql_partition_by='RANGE (timestamp)',
    )
    op.execute('ALTER SEQUENCE llm_call_logs_id_seq OWNED BY llm_call_logs.id')
    op.execute('CREATE TABLE llm_call_logs_default PARTITION OF llm_call_logs DEFAULT')
    op.execute(ENSURE_PARTITION)
    # A partition for each recent month that has rows, and for this month and the next three.
    op.execute("""
        SELECT llm_call_logs_ensure_partition((month AT TIME ZONE 'UTC')::date) FROM (
            SELECT DISTINCT date_trunc('month', "timestamp", 'UTC') AS month
            FROM llm_call_logs_unpartitioned
            WHERE "timestamp" >= now() - interval '36 months' AND "timestamp" < now() + interval '4 months'
            UNION
            SELECT generate_series(date_trunc('month', now(), 'UTC'),
                                   date_trunc('month', now(), 'UTC') + interval '3 months',
                                   interval '1 month')
        ) AS months ORDER BY month
    """)
    op.execute(f'INSERT INTO llm_call_logs ({COLUMNS}) SELECT {COLUMNS} FROM llm_call_logs_unpartitioned')
    op.execute('DROP TABLE llm_call_logs_unpartitioned')
    _create_log_indexes()


def _create_log_indexes():
    # The seed's three indexes, under its names and as it writes them, then ours (0002).
    op.create_index('idx_llm_logs_user_timestamp', 'llm_call_logs', ['user_id', sa.literal_column('timestamp DESC')])
    op.create_index('idx_llm_logs_endpoint', 'llm_call_logs', ['endpoint_name'])
    op.create_index('idx_llm_logs_operation_type', 'llm_call_logs', ['llm_operation_type'])
    op.create_index('idx_llm_logs_timestamp_id', 'llm_call_logs',
                    [sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')])
    op.create_index('idx_llm_logs_failed', 'llm_call_logs',
                    [sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')],
                    postgresql_where=sa.text('NOT success'))


def _create_rollup_functions():
    op.execute(DURATION_BUCKET)
    for action, src in TRIGGER_SOURCES.items():
        body = ROLLUP_UPSERTS.format(src=src, shard=f'(pg_backend_pid() % {GLOBAL_SHARDS})')
        op.execute(f"""
            CREATE FUNCTION llm_call_logs_rollup_{action}() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;
        """)
        op.execute(f"""
            CREATE TRIGGER llm_call_logs_rollup_{action} AFTER {action.upper()} ON llm_call_logs
            {TRIGGER_REFERENCING[action]} FOR EACH STATEMENT
            EXECUTE FUNCTION llm_call_logs_rollup_{action}()
        """)
    truncate_all = ', '.join(ROLLUP_TABLES)
    # DELETE, not TRUNCATE: a TRUNCATE of the log table may name the rollups too.
    delete_all = ' '.join(f'DELETE FROM {table};' for table in ROLLUP_TABLES)
    op.execute(f"""
        CREATE FUNCTION llm_call_logs_rollup_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {delete_all} RETURN NULL; END $$;
    """)
    op.execute("""
        CREATE TRIGGER llm_call_logs_rollup_truncate AFTER TRUNCATE ON llm_call_logs
        FOR EACH STATEMENT EXECUTE FUNCTION llm_call_logs_rollup_truncate()
    """)
    # Folds rows into the rollups that reached the table with its triggers off (a bulk load
    # in session_replication_role replica, a restore): those with an id above `after_id`, or
    # every row for NULL. The caller holds other writers off, so no row is counted twice.
    fold = ROLLUP_UPSERTS.format(
        src='(SELECT 1 AS sign, * FROM llm_call_logs WHERE after_id IS NULL OR id > after_id)',
        shard='0')
    op.execute(f"""
        CREATE FUNCTION llm_log_rollups_fold(after_id bigint) RETURNS void
        LANGUAGE plpgsql AS $$ BEGIN {fold} END $$;
    """)
    # Recounts every rollup from the rows, under a lock that holds writers off meanwhile.
    op.execute(f"""
        CREATE FUNCTION llm_log_rollups_rebuild() RETURNS bigint
        LANGUAGE plpgsql AS $$
        BEGIN
            LOCK TABLE llm_call_logs IN SHARE MODE;
            TRUNCATE {truncate_all};
            PERFORM llm_log_rollups_fold(NULL);
            RETURN (SELECT count(*) FROM llm_call_logs);
        END $$;
    """)


def upgrade():
    _create_rollup_tables()
    _create_partitioned_log_table()
    _create_rollup_functions()
    op.execute('SELECT llm_log_rollups_rebuild()')


def downgrade():
    for action in ('insert', 'delete', 'update', 'truncate'):
        op.execute(f'DROP TRIGGER llm_call_logs_rollup_{action} ON llm_call_logs')
        op.execute(f'DROP FUNCTION llm_call_logs_rollup_{action}()')
    op.execute('DROP FUNCTION llm_log_rollups_rebuild()')
    op.execute('DROP FUNCTION llm_log_rollups_fold(bigint)')
    for table in ROLLUP_TABLES:
        op.drop_table(table)
    op.execute('DROP FUNCTION llm_duration_bucket(integer)')
    op.execute('ALTER TABLE llm_call_logs RENAME TO llm_call_logs_partitioned')
    op.execute('ALTER TABLE llm_call_logs_partitioned RENAME CONSTRAINT pk_llm_call_logs'
               ' TO pk_llm_call_logs_partitioned')
    for name in ('idx_llm_logs_user_timestamp', 'idx_llm_logs_endpoint',
                 'idx_llm_logs_operation_type', 'idx_llm_logs_timestamp_id', 'idx_llm_logs_failed'):
        op.execute(f'DROP INDEX {name}')
    op.execute('ALTER SEQUENCE llm_call_logs_id_seq OWNED BY NONE')
    op.execute(f"""
        CREATE TABLE llm_call_logs (LIKE llm_call_logs_partitioned INCLUDING DEFAULTS);
        ALTER TABLE llm_call_logs DROP COLUMN call_id;
        ALTER TABLE llm_call_logs ADD CONSTRAINT pk_llm_call_logs PRIMARY KEY (id);
        INSERT INTO llm_call_logs ({COLUMNS}) SELECT {COLUMNS} FROM llm_call_logs_partitioned;
        ALTER SEQUENCE llm_call_logs_id_seq OWNED BY llm_call_logs.id;
        DROP TABLE llm_call_logs_partitioned;
        DROP FUNCTION llm_call_logs_ensure_partition(date);
    """)
    _create_log_indexes()
