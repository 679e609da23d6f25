-- 收入明细: the completed sessions behind the charges measure.
SELECT {{day "started_at"}} AS day, dept_id, project_id, visit_type,
       id AS session_id, patient_id, started_at, charge_fen, CASE WHEN charge_confirmed THEN 1 ELSE 0 END AS charge_confirmed
FROM cur_session
WHERE status = 'completed' AND {{inDays "started_at"}}
