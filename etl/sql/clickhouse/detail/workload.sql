-- 工作量明细 (ClickHouse): the completed sessions behind the sessions measure.
SELECT {{day "started_at"}} AS day, dept_id, project_id, performer_id AS staff_id, visit_type,
       toInt64(id) AS session_id, toInt64(patient_id) AS patient_id, started_at, ended_at,
       intDiv({{seconds "started_at" "ended_at"}}, 60) AS minutes, toInt64(units) AS units, toInt64(seq_no) AS seq_no
FROM cur_session
WHERE status = 'completed' AND {{inDays "started_at"}}
