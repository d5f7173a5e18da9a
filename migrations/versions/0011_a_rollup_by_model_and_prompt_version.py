"""A rollup by model and prompt version, kept by triggers like the others

Revision ID: 0011
Revises: 0010

GET /llm-logs/stats/by-model (SPEC section 8) groups everyone's calls by (model, prompt_name,
prompt_version); over a week of a large log that is every row of the week. Two rollups keep
those sums per hour and per day, in shards as the global rollup does (concurrent writers
update different rows): the calls, failures, durations, tokens and cost, and a histogram of
the durations (llm_duration_bucket) for p95. They have statement triggers of their own, with
transition tables, beside 0004's; the fold and rebuild of all rollups, and the truncate
trigger, now cover them too. Existing rows are counted in at the upgrade.

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

GLOBAL_SHARDS = 8  # as 0004's global rollup
KEY = ('grain', 'bucket', 'shard', 'model', 'prompt_name', 'prompt_version')
TABLES = ('llm_log_rollup_model', 'llm_log_rollup_model_durations')
OLDER_TABLES = ('llm_log_rollup_user', 'llm_log_rollup_user_calls',
                'llm_log_rollup_user_durations', 'llm_log_rollup_global')

# Over a relation `{src}` of log rows with a `sign` (+1 arrived, -1 left), grouped and sorted
# by the rollup's key, so concurrent writers lock rollup rows in one order.
MODEL_UPSERTS = """
INSERT INTO llm_log_rollup_model AS r
    (grain, bucket, shard, model, prompt_name, prompt_version,
     calls, failed_calls, duration_count, duration_sum, total_tokens, cost_usd)
SELECT g.grain, date_trunc(g.grain, c."timestamp", 'UTC'), {shard}, c.model, c.prompt_name,
       c.prompt_version, sum(c.sign), coalesce(sum(c.sign) FILTER (WHERE NOT c.success), 0),
       coalesce(sum(c.sign) FILTER (WHERE c.duration_ms IS NOT NULL), 0),
       coalesce(sum(c.sign * c.duration_ms), 0), coalesce(sum(c.sign * c.total_tokens), 0),
       coalesce(sum(c.sign * c.cost_usd), 0)
FROM {src} AS c CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (grain, bucket, shard, model, prompt_name, prompt_version)
DO UPDATE SET calls = r.calls + excluded.calls,
              failed_calls = r.failed_calls + excluded.failed_calls,
              duration_count = r.duration_count + excluded.duration_count,
              duration_sum = r.duration_sum + excluded.duration_sum,
              total_tokens = r.total_tokens + excluded.total_tokens,
              cost_usd = r.cost_usd + excluded.cost_usd;

INSERT INTO llm_log_rollup_model_durations AS r
    (grain, bucket, shard, model, prompt_name, prompt_version, duration_bucket, calls)
SELECT g.grain, date_trunc(g.grain, c."timestamp", 'UTC'), {shard}, c.model, c.prompt_name,
       c.prompt_version, llm_duration_bucket(c.duration_ms), sum(c.sign)
FROM {src} AS c CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
WHERE c.duration_ms IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (grain, bucket, shard, model, prompt_name, prompt_version, duration_bucket)
DO UPDATE SET calls = r.calls + excluded.calls;
"""

TRIGGER_SOURCES = {
    'insert': ('REFERENCING NEW TABLE AS new_rows', '(SELECT 1 AS sign, * FROM new_rows)'),
    'delete': ('REFERENCING OLD TABLE AS old_rows', '(SELECT -1 AS sign, * FROM old_rows)'),
    'update': ('REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows',
               '(SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows)'),
}


def _rebuild_sql(tables):
    return f"""
        CREATE OR REPLACE FUNCTION llm_log_rollups_rebuild() RETURNS bigint
        LANGUAGE plpgsql AS $$
        BEGIN
            LOCK TABLE llm_call_logs IN SHARE MODE;
            TRUNCATE {', '.join(tables)};
            PERFORM llm_log_rollups_fold(NULL);
            RETURN (SELECT count(*) FROM llm_call_logs);
        END $$;
    """


def _key_columns():
    return [
        sa.Column('grain', sa.String(length=4), nullable=False),
        sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
        sa.Column('shard', sa.SmallInteger(), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=True),
        sa.Column('prompt_name', sa.String(length=64), nullable=True),
        sa.Column('prompt_version', sa.Integer(), nullable=True),
    ]


def upgrade():
    count = lambda name: sa.Column(name, sa.BigInteger(), server_default='0', nullable=False)  # noqa: E731
    op.create_table('llm_log_rollup_model',
    *_key_columns(),
    count('calls'), count('failed_calls'), count('duration_count'), count('duration_sum'),
    count('total_tokens'),
    sa.Column('cost_usd', sa.Numeric(), server_default='0', nullable=False),
    sa.UniqueConstraint(*KEY, name='uq_llm_log_rollup_model_key',
                        postgresql_nulls_not_distinct=True),
    )
    op.create_table('llm_log_rollup_model_durations',
    *_key_columns(),
    sa.Column('duration_bucket', sa.Integer(), nullable=False),
    count('calls'),
    sa.UniqueConstraint(*KEY, 'duration_bucket', name='uq_llm_log_rollup_model_durations_key',
                        postgresql_nulls_not_distinct=True),
    )
    for action, (referencing, src) in TRIGGER_SOURCES.items():
        body = MODEL_UPSERTS.format(src=src, shard=f'(pg_backend_pid() % {GLOBAL_SHARDS})')
        op.execute(f"""
            CREATE FUNCTION llm_call_logs_rollup_model_{action}() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;
        """)
        op.execute(f"""
            CREATE TRIGGER llm_call_logs_rollup_model_{action} AFTER {action.upper()}
            ON llm_call_logs {referencing} FOR EACH STATEMENT
            EXECUTE FUNCTION llm_call_logs_rollup_model_{action}()
        """)
    delete_all = ' '.join(f'DELETE FROM {table};' for table in TABLES)
    op.execute(f"""
        CREATE FUNCTION llm_call_logs_rollup_model_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {delete_all} RETURN NULL; END $$;
    """)
    op.execute("""
        CREATE TRIGGER llm_call_logs_rollup_model_truncate AFTER TRUNCATE ON llm_call_logs
        FOR EACH STATEMENT EXECUTE FUNCTION llm_call_logs_rollup_model_truncate()
    """)
    # The fold of all rollups: 0004's, renamed, then these.
    op.execute('ALTER FUNCTION llm_log_rollups_fold(bigint) RENAME TO llm_log_rollups_fold_0004')
    fold = MODEL_UPSERTS.format(
        src='(SELECT 1 AS sign, * FROM llm_call_logs WHERE after_id IS NULL OR id > after_id)',
        shard='0')
    op.execute(f"""
        CREATE FUNCTION llm_log_rollups_fold(after_id bigint) RETURNS void
        LANGUAGE plpgsql AS $$ BEGIN PERFORM llm_log_rollups_fold_0004(after_id); {fold} END $$;
    """)
    op.execute(_rebuild_sql(OLDER_TABLES + TABLES))
    op.execute("LOCK TABLE llm_call_logs IN SHARE MODE")
    op.execute(MODEL_UPSERTS.format(src='(SELECT 1 AS sign, * FROM llm_call_logs)', shard='0'))


def downgrade():
    op.execute(_rebuild_sql(OLDER_TABLES))
    op.execute('DROP FUNCTION llm_log_rollups_fold(bigint)')
    op.execute('ALTER FUNCTION llm_log_rollups_fold_0004(bigint) RENAME TO llm_log_rollups_fold')
    for action in ('insert', 'delete', 'update', 'truncate'):
        op.execute(f'DROP TRIGGER llm_call_logs_rollup_model_{action} ON llm_call_logs')
        op.execute(f'DROP FUNCTION llm_call_logs_rollup_model_{action}()')
    for table in reversed(TABLES):
        op.drop_table(table)
