-- 工作量 workload: per day, department, project, staff member and visit type.
-- Each activity counts on the day and for the person that did it: sessions for
-- the performer (on the day they started), assessments for the assessor (signed),
-- records for the signer (signed; on time when signed by the deadline),
-- follow-ups for whoever completed them.
SELECT day, dept_id, project_id, staff_id, visit_type,
       sum(sessions) AS sessions, sum(patients) AS patients,
       sum(treatment_seconds) // 60 AS treatment_minutes, sum(units) AS units,
       sum(assessments) AS assessments, sum(records_filed) AS records_filed,
       sum(records_on_time) AS records_on_time, sum(followups_done) AS followups_done
FROM (
    SELECT {{day "s.started_at"}} AS day, s.dept_id, s.project_id, s.performer_id AS staff_id, s.visit_type,
           count(*) AS sessions, count(DISTINCT s.patient_id) AS patients,
           sum({{seconds "s.started_at" "s.ended_at"}}) AS treatment_seconds, sum(s.units) AS units,
           0 AS assessments, 0 AS records_filed, 0 AS records_on_time, 0 AS followups_done
    FROM cur_session s
    WHERE s.status = 'completed' AND {{inDays "s.started_at"}}
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT {{day "a.signed_at"}}, a.dept_id, ap.project_id, a.assessor_id, ap.visit_type,
           0, 0, 0, 0, count(*), 0, 0, 0
    FROM cur_assessment a JOIN cur_application ap ON ap.id = a.application_id
    WHERE a.status = 'signed' AND a.signed_at IS NOT NULL AND {{inDays "a.signed_at"}}
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT {{day "r.signed_at"}}, r.dept_id, r.project_id, r.signer_id, s.visit_type,
           0, 0, 0, 0, 0, count(*), sum(CASE WHEN r.signed_at <= r.due_at THEN 1 ELSE 0 END), 0
    FROM cur_record r JOIN cur_session s ON s.id = r.session_id
    WHERE r.signed_at IS NOT NULL AND {{inDays "r.signed_at"}}
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT {{day "f.done_at"}}, f.dept_id, f.project_id, f.done_by, ap.visit_type,
           0, 0, 0, 0, 0, 0, 0, count(*)
    FROM cur_followup f JOIN cur_course c ON c.id = f.course_id JOIN cur_application ap ON ap.id = c.application_id
    WHERE f.status = 'done' AND f.done_at IS NOT NULL AND {{inDays "f.done_at"}}
    GROUP BY 1, 2, 3, 4, 5
) t
GROUP BY day, dept_id, project_id, staff_id, visit_type
