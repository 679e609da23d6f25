{{define "dq_units"}}
    -- The units the data_quality mart counts: one row per record, session,
    -- appointment, survey or follow-up that a rating rule (RATING.md) looks
    -- at, with whether it passed. The mart sums them per day and department;
    -- its detail lists them, so evidence and figure cannot disagree.
    -- 06.01.3 一致性: the record's project code and name agree with the dictionary.
    SELECT {{day "r.treated_at"}} AS day, r.dept_id, '06.01.3' AS item, '一致性' AS dimension,
           'record' AS entity, r.id AS entity_id, r.patient_id,
           CASE WHEN r.project_code = p.code AND r.project_name = p.name THEN 1 ELSE 0 END AS passed
    FROM cur_record r JOIN cur_project p ON p.id = r.project_id
    WHERE p.emr_scope AND {{inDays "r.treated_at"}}
    UNION ALL
    -- 06.01.4 完整性: patient id, patient name and project name filled (blank after
    -- removing every Unicode space, or a placeholder of rules.json, is not filled).
    SELECT {{day "r.treated_at"}}, r.dept_id, '06.01.4', '完整性', 'record', r.id, r.patient_id,
           CASE WHEN r.patient_id > 0 AND NOT {{blank "r.patient_name"}} AND NOT {{blank "r.project_name"}} THEN 1 ELSE 0 END
    FROM cur_record r JOIN cur_project p ON p.id = r.project_id
    WHERE p.emr_scope AND {{inDays "r.treated_at"}}
    UNION ALL
    -- 06.01 有效应用 (coverage): completed sessions whose execution record is signed.
    SELECT {{day "s.started_at"}}, s.dept_id, '06.01', '有效应用', 'session', s.id, s.patient_id,
           CASE WHEN EXISTS (SELECT 1 FROM cur_record r WHERE r.session_id = s.id AND r.signed_at IS NOT NULL) THEN 1 ELSE 0 END
    FROM cur_session s JOIN cur_project p ON p.id = s.project_id
    WHERE p.emr_scope AND s.status = 'completed' AND {{inDays "s.started_at"}}
    UNION ALL
    -- 06.01.5 完整性: the execution record has its time and therapist.
    SELECT {{day "s.started_at"}}, s.dept_id, '06.01.5', '完整性', 'session', s.id, s.patient_id,
           CASE WHEN s.ended_at IS NOT NULL AND s.performer_id > 0 THEN 1 ELSE 0 END
    FROM cur_session s JOIN cur_project p ON p.id = s.project_id
    WHERE p.emr_scope AND s.status = 'completed' AND {{inDays "s.started_at"}}
    UNION ALL
    -- 06.01.5 整合性: the execution matches a plan (course) on patient and project.
    SELECT {{day "s.started_at"}}, s.dept_id, '06.01.5', '整合性', 'session', s.id, s.patient_id,
           CASE WHEN c.id > 0 THEN 1 ELSE 0 END
    FROM cur_session s JOIN cur_project p ON p.id = s.project_id
    LEFT JOIN cur_course c ON c.id = s.course_id AND c.patient_id = s.patient_id AND c.project_id = s.project_id
    WHERE p.emr_scope AND s.status = 'completed' AND {{inDays "s.started_at"}}
    UNION ALL
    -- 06.01.6 完整性: the appointment has its time and its planned project,
    -- the project its course (the plan) prescribes. The scope is the plan's
    -- project: an appointment booked under another project is the failure.
    SELECT {{day "a.booked_at"}}, a.dept_id, '06.01.6', '完整性', 'appointment', a.id, a.patient_id,
           CASE WHEN a.project_id = c.project_id AND {{epoch "a.planned_at"}} > 0 THEN 1 ELSE 0 END
    FROM cur_appointment a JOIN cur_course c ON c.id = a.course_id JOIN cur_project p ON p.id = c.project_id
    WHERE p.emr_scope AND {{inDays "a.booked_at"}}
    UNION ALL
    -- 06.01.6 及时性: application before plan before execution. Only an execution
    -- whose plan is the patient's own has plan times to examine (one naming
    -- another patient's plan fails 06.01.5 整合性 instead).
    SELECT {{day "s.started_at"}}, s.dept_id, '06.01.6', '及时性', 'session', s.id, s.patient_id,
           CASE WHEN ap.applied_at < c.started_at AND c.started_at < s.started_at THEN 1 ELSE 0 END
    FROM cur_session s JOIN cur_project p ON p.id = s.project_id
    JOIN cur_course c ON c.id = s.course_id AND c.patient_id = s.patient_id JOIN cur_application ap ON ap.id = c.application_id
    WHERE p.emr_scope AND s.status = 'completed' AND {{inDays "s.started_at"}}
    UNION ALL
    -- 智慧服务 诊疗预约: electronic bookings over all bookings.
    SELECT {{day "a.booked_at"}}, a.dept_id, 'smart.appointment', '电子预约覆盖', 'appointment', a.id, a.patient_id,
           CASE WHEN a.channel IN ('wechat', 'pad', 'kiosk') THEN 1 ELSE 0 END
    FROM cur_appointment a JOIN cur_project p ON p.id = a.project_id
    WHERE p.smart_scope AND {{inDays "a.booked_at"}}
    UNION ALL
    -- 智慧服务 患者反馈: electronic surveys over all surveys.
    SELECT {{day "v.sent_at"}}, v.dept_id, 'smart.feedback', '电子调查覆盖', 'survey', v.id, v.patient_id,
           CASE WHEN v.channel = 'electronic' THEN 1 ELSE 0 END
    FROM cur_survey v JOIN cur_project p ON p.id = v.project_id
    WHERE p.smart_scope AND {{inDays "v.sent_at"}}
    UNION ALL
    -- 智慧服务 患者管理: electronic follow-up records over all follow-ups done.
    SELECT {{day "f.done_at"}}, f.dept_id, 'smart.followup', '电子随访覆盖', 'followup', f.id, f.patient_id,
           CASE WHEN f.channel IN ('wechat', 'sms') THEN 1 ELSE 0 END
    FROM cur_followup f JOIN cur_project p ON p.id = f.project_id
    WHERE p.smart_scope AND f.status = 'done' AND f.done_at IS NOT NULL AND {{inDays "f.done_at"}}
{{end}}
