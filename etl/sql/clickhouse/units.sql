{{define "dq_units"}}
    -- The units the data_quality mart counts (ClickHouse): the same rules as
    -- the DuckDB units.sql beside it, one row per unit a rule looks at.
    SELECT {{day "treated_at"}} AS day, dept_id, '06.01.3' AS item, '一致性' AS dimension,
           'record' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(project_code = code AND project_name = name) AS passed
    FROM (SELECT id AS entity_id, project_id, dept_id, patient_id, treated_at, project_code, project_name FROM {{cur "record" "treated_at"}} WHERE {{inDays "treated_at"}})
    ALL INNER JOIN (SELECT id AS project_id, code, name FROM cur_project WHERE emr_scope = 1) USING project_id
    UNION ALL
    SELECT {{day "treated_at"}} AS day, dept_id, '06.01.4' AS item, '完整性' AS dimension,
           'record' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(patient_id > 0 AND NOT {{blank "patient_name"}} AND NOT {{blank "project_name"}}) AS passed
    FROM (SELECT id AS entity_id, project_id, dept_id, treated_at, patient_id, patient_name, project_name FROM {{cur "record" "treated_at"}} WHERE {{inDays "treated_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01' AS item, '有效应用' AS dimension,
           'session' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(signed = 1) AS passed
    FROM (SELECT entity_id, session_id, patient_id, dept_id, started_at FROM
            (SELECT id AS entity_id, id AS session_id, patient_id, project_id, dept_id, started_at FROM {{cur "session" "started_at"}}
             WHERE status = 'completed' AND {{inDays "started_at"}})
          ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id)
    ALL LEFT JOIN (SELECT DISTINCT session_id, toUInt8(1) AS signed FROM {{curJoin "record" "session_id" "session" "id" "started_at"}} WHERE isNotNull(signed_at)) USING session_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.5' AS item, '完整性' AS dimension,
           'session' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(isNotNull(ended_at) AND performer_id > 0) AS passed
    FROM (SELECT id AS entity_id, patient_id, project_id, dept_id, started_at, ended_at, performer_id FROM {{cur "session" "started_at"}}
          WHERE status = 'completed' AND {{inDays "started_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.5' AS item, '整合性' AS dimension,
           'session' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(plan_id > 0) AS passed
    FROM (SELECT entity_id, course_id, patient_id, project_id, dept_id, started_at FROM
            (SELECT id AS entity_id, course_id, patient_id, project_id, dept_id, started_at FROM {{cur "session" "started_at"}}
             WHERE status = 'completed' AND {{inDays "started_at"}})
          ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id)
    ALL LEFT JOIN (SELECT id AS course_id, patient_id, project_id, id AS plan_id FROM cur_course) USING course_id, patient_id, project_id
    UNION ALL
    SELECT {{day "booked_at"}} AS day, dept_id, '06.01.6' AS item, '完整性' AS dimension,
           'appointment' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(project_id = planned_project_id AND {{epoch "planned_at"}} > 0) AS passed
    FROM (SELECT entity_id, patient_id, project_id, planned_project_id, dept_id, booked_at, planned_at FROM
            (SELECT id AS entity_id, course_id, patient_id, project_id, dept_id, booked_at, planned_at FROM {{cur "appointment" "booked_at"}} WHERE {{inDays "booked_at"}})
          ALL INNER JOIN (SELECT id AS course_id, project_id AS planned_project_id FROM cur_course) USING course_id)
    ALL INNER JOIN (SELECT id AS planned_project_id FROM cur_project WHERE emr_scope = 1) USING planned_project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.6' AS item, '及时性' AS dimension,
           'session' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(applied_at < course_started AND course_started < started_at) AS passed
    FROM (SELECT entity_id, patient_id, course_id, dept_id, started_at FROM
            (SELECT id AS entity_id, patient_id, course_id, project_id, dept_id, started_at FROM {{cur "session" "started_at"}}
             WHERE status = 'completed' AND {{inDays "started_at"}})
          ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id)
    ALL INNER JOIN (SELECT course_id, patient_id, course_started, applied_at FROM
        (SELECT id AS course_id, patient_id, application_id, started_at AS course_started FROM cur_course)
        ALL INNER JOIN (SELECT id AS application_id, applied_at FROM cur_application) USING application_id) USING course_id, patient_id
    UNION ALL
    SELECT {{day "booked_at"}} AS day, dept_id, 'smart.appointment' AS item, '电子预约覆盖' AS dimension,
           'appointment' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(channel IN ('wechat', 'pad', 'kiosk')) AS passed
    FROM (SELECT id AS entity_id, patient_id, project_id, dept_id, booked_at, channel FROM {{cur "appointment" "booked_at"}} WHERE {{inDays "booked_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
    UNION ALL
    SELECT {{day "sent_at"}} AS day, dept_id, 'smart.feedback' AS item, '电子调查覆盖' AS dimension,
           'survey' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(channel = 'electronic') AS passed
    FROM (SELECT id AS entity_id, patient_id, project_id, dept_id, sent_at, channel FROM {{cur "survey" "sent_at"}} WHERE {{inDays "sent_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
    UNION ALL
    SELECT {{day "done_at"}} AS day, dept_id, 'smart.followup' AS item, '电子随访覆盖' AS dimension,
           'followup' AS entity, toInt64(entity_id) AS entity_id, toInt64(patient_id) AS patient_id,
           toInt64(channel IN ('wechat', 'sms')) AS passed
    FROM (SELECT id AS entity_id, patient_id, project_id, dept_id, done_at, channel FROM {{cur "followup" "done_at"}}
          WHERE status = 'done' AND done_at IS NOT NULL AND {{inDays "done_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
{{end}}
