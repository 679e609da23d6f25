-- 治疗患者 patients (ClickHouse 18.16 and later): the same definition as the
-- DuckDB file beside it.
SELECT {{day "started_at"}} AS day, dept_id, project_id, performer_id AS staff_id, visit_type, patient_id,
       toInt64(count()) AS sessions
FROM {{cur "session" "started_at"}}
WHERE status = 'completed' AND {{inDays "started_at"}}
GROUP BY day, dept_id, project_id, staff_id, visit_type, patient_id
