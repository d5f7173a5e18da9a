"""The seed's three example SQL queries, copied verbatim (trailing spaces included)."""

SEED_TOP_USERS = """
SELECT user_id, COUNT(*) as call_count
FROM llm_call_logs 
WHERE timestamp >= NOW() - INTERVAL '7 days'
GROUP BY user_id 
ORDER BY call_count DESC 
LIMIT 10;
"""  # noqa: W291

SEED_ENDPOINT_LATENCY = """
SELECT endpoint_name, AVG(duration_ms) as avg_duration_ms
FROM llm_call_logs 
WHERE duration_ms IS NOT NULL 
GROUP BY endpoint_name 
ORDER BY avg_duration_ms DESC;
"""  # noqa: W291

SEED_ERROR_RATES = """
SELECT 
    llm_operation_type,
    COUNT(*) as total_calls,
    SUM(CASE WHEN success = false THEN 1 ELSE 0 END) as failed_calls,
    ROUND(SUM(CASE WHEN success = false THEN 1 ELSE 0 END) * 100.0 / COUNT(*), 2) as error_rate
FROM llm_call_logs 
WHERE llm_operation_type IS NOT NULL 
GROUP BY llm_operation_type 
ORDER BY error_rate DESC;
"""  # noqa: W291
