-- 数据质量与评级 data quality and rating evidence: per day, department, rating
-- item and dimension, a numerator and a denominator (RATING.md), so that any
-- period's coefficient is a sum over a sum. The rules are the units in
-- units.sql: EMR 06.01 items read projects in the EMR scope; smart-service
-- coverage reads projects in that scope.
SELECT day, dept_id, item, dimension, sum(passed) AS numerator, count(*) AS denominator, count(*) - sum(passed) AS failed
FROM ({{template "dq_units" .}}) t
GROUP BY day, dept_id, item, dimension
