-- 数据质量与评级 data quality and rating evidence (ClickHouse): the same
-- definitions as the DuckDB file beside it.
SELECT day, dept_id, item, dimension, sum(numerator), sum(denominator)
FROM (
    SELECT {{day "treated_at"}} AS day, dept_id, '06.01.3' AS item, '一致性' AS dimension,
           toInt64(sum(project_code = code AND project_name = name)) AS numerator, toInt64(count()) AS denominator
    FROM (SELECT project_id, dept_id, treated_at, project_code, project_name FROM cur_record WHERE {{inDays "treated_at"}})
    ALL INNER JOIN (SELECT id AS project_id, code, name FROM cur_project WHERE emr_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "treated_at"}} AS day, dept_id, '06.01.4' AS item, '完整性' AS dimension,
           toInt64(sum(patient_id > 0 AND patient_name != '' AND project_name != '')), toInt64(count())
    FROM (SELECT project_id, dept_id, treated_at, patient_id, patient_name, project_name FROM cur_record WHERE {{inDays "treated_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.5' AS item, '完整性' AS dimension,
           toInt64(sum(isNotNull(ended_at) AND performer_id > 0)), toInt64(count())
    FROM (SELECT project_id, dept_id, started_at, ended_at, performer_id FROM cur_session
          WHERE status = 'completed' AND {{inDays "started_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.5' AS item, '整合性' AS dimension,
           toInt64(sum(plan_id > 0)), toInt64(count())
    FROM (SELECT course_id, patient_id, project_id, dept_id, started_at FROM
            (SELECT course_id, patient_id, project_id, dept_id, started_at FROM cur_session
             WHERE status = 'completed' AND {{inDays "started_at"}})
          ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id)
    ALL LEFT JOIN (SELECT id AS course_id, patient_id, project_id, id AS plan_id FROM cur_course) USING course_id, patient_id, project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "booked_at"}} AS day, dept_id, '06.01.6' AS item, '完整性' AS dimension,
           toInt64(sum(project_id > 0 AND {{epoch "planned_at"}} > 0)), toInt64(count())
    FROM (SELECT project_id, dept_id, booked_at, planned_at FROM cur_appointment WHERE {{inDays "booked_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, '06.01.6' AS item, '及时性' AS dimension,
           toInt64(sum(applied_at < course_started AND course_started < started_at)), toInt64(count())
    FROM (SELECT course_id, dept_id, started_at FROM
            (SELECT course_id, project_id, dept_id, started_at FROM cur_session
             WHERE status = 'completed' AND {{inDays "started_at"}})
          ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE emr_scope = 1) USING project_id)
    ALL INNER JOIN (SELECT course_id, course_started, applied_at FROM
        (SELECT id AS course_id, application_id, started_at AS course_started FROM cur_course)
        ALL INNER JOIN (SELECT id AS application_id, applied_at FROM cur_application) USING application_id) USING course_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "booked_at"}} AS day, dept_id, 'smart.appointment' AS item, '电子预约覆盖' AS dimension,
           toInt64(sum(channel IN ('wechat', 'pad', 'kiosk'))), toInt64(count())
    FROM (SELECT project_id, dept_id, booked_at, channel FROM cur_appointment WHERE {{inDays "booked_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "sent_at"}} AS day, dept_id, 'smart.feedback' AS item, '电子调查覆盖' AS dimension,
           toInt64(sum(channel = 'electronic')), toInt64(count())
    FROM (SELECT project_id, dept_id, sent_at, channel FROM cur_survey WHERE {{inDays "sent_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
    UNION ALL
    SELECT {{day "done_at"}} AS day, dept_id, 'smart.followup' AS item, '电子随访覆盖' AS dimension,
           toInt64(sum(channel IN ('wechat', 'sms'))), toInt64(count())
    FROM (SELECT project_id, dept_id, done_at, channel FROM cur_followup
          WHERE status = 'done' AND done_at IS NOT NULL AND {{inDays "done_at"}})
    ALL INNER JOIN (SELECT id AS project_id FROM cur_project WHERE smart_scope = 1) USING project_id
    GROUP BY day, dept_id, item, dimension
)
GROUP BY day, dept_id, item, dimension
