-- 工作量 workload (ClickHouse 18.16 and later): the same definition as the
-- DuckDB file beside it. Joins are written as ALL INNER JOIN … USING over
-- subqueries with distinct column names, the form 18.16 understands.
SELECT day, dept_id, project_id, staff_id, visit_type,
       sum(sessions), sum(patients),
       intDiv(sum(treatment_seconds), 60) AS treatment_minutes, toInt64(sum(units)) AS units,
       sum(assessments), sum(records_filed),
       sum(records_on_time), sum(followups_done)
FROM (
    SELECT {{day "started_at"}} AS day, dept_id, project_id, performer_id AS staff_id, visit_type,
           toInt64(count()) AS sessions, toInt64(uniqExact(patient_id)) AS patients,
           sum({{seconds "started_at" "ended_at"}}) AS treatment_seconds, toInt64(sum(units)) AS units,
           {{z}} AS assessments, {{z}} AS records_filed, {{z}} AS records_on_time, {{z}} AS followups_done
    FROM {{cur "session" "started_at"}}
    WHERE status = 'completed' AND {{inDays "started_at"}}
    GROUP BY day, dept_id, project_id, staff_id, visit_type
    UNION ALL
    SELECT {{day "signed_at"}} AS day, dept_id, project_id, assessor_id AS staff_id, visit_type,
           {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}
    FROM (SELECT application_id, dept_id, assessor_id, signed_at FROM {{cur "assessment" "signed_at"}}
          WHERE status = 'signed' AND signed_at IS NOT NULL AND {{inDays "signed_at"}})
    ALL INNER JOIN (SELECT id AS application_id, project_id, visit_type FROM {{curJoin "application" "id" "assessment" "application_id" "signed_at"}}) USING application_id
    GROUP BY day, dept_id, project_id, staff_id, visit_type
    UNION ALL
    SELECT {{day "signed_at"}} AS day, dept_id, project_id, signer_id AS staff_id, visit_type,
           {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), toInt64(sum(signed_at <= due_at)), {{z}}
    FROM (SELECT session_id, dept_id, project_id, assumeNotNull(signer_id) AS signer_id, signed_at, due_at FROM {{cur "record" "signed_at"}}
          WHERE signed_at IS NOT NULL AND {{inDays "signed_at"}})
    ALL INNER JOIN (SELECT id AS session_id, visit_type FROM {{curJoin "session" "id" "record" "session_id" "signed_at"}}) USING session_id
    GROUP BY day, dept_id, project_id, staff_id, visit_type
    UNION ALL
    SELECT {{day "done_at"}} AS day, dept_id, project_id, done_by AS staff_id, visit_type,
           {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count())
    FROM (SELECT course_id, dept_id, project_id, done_by, done_at FROM {{cur "followup" "done_at"}}
          WHERE status = 'done' AND done_at IS NOT NULL AND {{inDays "done_at"}})
    ALL INNER JOIN (SELECT course_id, visit_type FROM
        (SELECT id AS course_id, application_id FROM cur_course)
        ALL INNER JOIN (SELECT id AS application_id, visit_type FROM cur_application) USING application_id) USING course_id
    GROUP BY day, dept_id, project_id, staff_id, visit_type
)
GROUP BY day, dept_id, project_id, staff_id, visit_type
