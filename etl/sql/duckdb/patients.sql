-- 治疗患者 patients: who was treated, one row per day, department, project,
-- performer, visit type and patient. 治疗人数 of any period and slice is the
-- distinct count of patient_id over these rows (etl.Query), never a sum of
-- daily distinct counts.
SELECT {{day "s.started_at"}} AS day, s.dept_id, s.project_id, s.performer_id AS staff_id, s.visit_type, s.patient_id,
       count(*) AS sessions
FROM cur_session s
WHERE s.status = 'completed' AND {{inDays "s.started_at"}}
GROUP BY 1, 2, 3, 4, 5, 6
