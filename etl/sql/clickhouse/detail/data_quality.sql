-- 数据质量明细 (ClickHouse): every unit a rating rule looked at.
SELECT day, dept_id, item, dimension, entity, entity_id, patient_id, passed
FROM ({{template "dq_units" .}})
