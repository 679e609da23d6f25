-- 收入明细 (ClickHouse): the completed sessions behind the charges measure.
SELECT {{day "started_at"}} AS day, dept_id, project_id, visit_type,
       toInt64(id) AS session_id, toInt64(patient_id) AS patient_id, started_at, toInt64(charge_fen) AS charge_fen,
       toInt64(charge_confirmed) AS charge_confirmed
FROM cur_session
WHERE status = 'completed' AND {{inDays "started_at"}}
