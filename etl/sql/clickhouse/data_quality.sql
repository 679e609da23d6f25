-- 数据质量与评级 data quality and rating evidence (ClickHouse): the same
-- definitions as the DuckDB file beside it, summed over the units in units.sql.
SELECT day, dept_id, item, dimension, toInt64(sum(passed)), toInt64(count()), toInt64(count() - sum(passed))
FROM ({{template "dq_units" .}})
GROUP BY day, dept_id, item, dimension
