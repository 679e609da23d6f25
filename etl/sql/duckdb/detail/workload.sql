-- 工作量明细: the completed sessions behind the sessions measure.
SELECT {{day "started_at"}} AS day, dept_id, project_id, performer_id AS staff_id, visit_type,
       id AS session_id, patient_id, started_at, ended_at, {{seconds "started_at" "ended_at"}} // 60 AS minutes, units, seq_no
FROM cur_session
WHERE status = 'completed' AND {{inDays "started_at"}}
