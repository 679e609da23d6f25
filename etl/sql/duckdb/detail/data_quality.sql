-- 数据质量明细: every unit a rating rule looked at, with whether it passed.
SELECT day, dept_id, item, dimension, entity, entity_id, patient_id, passed
FROM ({{template "dq_units" .}}) t
