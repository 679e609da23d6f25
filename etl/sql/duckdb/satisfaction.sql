-- 满意度与随访 satisfaction and follow-up: per day, department and project.
-- Follow-ups count as due on their due date, with the cohort rates' parts
-- (already past due: done or missed; done; done by the due date) on that
-- same day, and as done on the day done (activity); surveys as sent and answered on their own
-- days, with each dimension's score summed over the answered ones, and the
-- sent ones that were answered on the day sent (问卷回收率's cohort); complaints
-- on the day received, with the reply time; adverse reactions on the session day.
SELECT day, dept_id, project_id,
       sum(followups_due) AS followups_due, sum(followups_done) AS followups_done,
       sum(followups_on_time) AS followups_on_time,
       sum(surveys_sent) AS surveys_sent, sum(surveys_answered) AS surveys_answered,
       sum(score_environment) AS score_environment, sum(score_attitude) AS score_attitude,
       sum(score_skill) AS score_skill, sum(score_waiting) AS score_waiting,
       sum(score_explanation) AS score_explanation, sum(score_overall) AS score_overall,
       sum(complaints) AS complaints, sum(complaints_replied) AS complaints_replied,
       sum(complaint_reply_seconds) AS complaint_reply_seconds, sum(adverse_reactions) AS adverse_reactions,
       sum(followups_past_due) AS followups_past_due, sum(followups_due_done) AS followups_due_done,
       sum(surveys_sent_answered) AS surveys_sent_answered
FROM (
    SELECT {{date "due_date"}} AS day, dept_id, project_id, count(*) AS followups_due, 0 AS followups_done,
           sum(CASE WHEN status = 'done' AND done_at IS NOT NULL AND {{day "done_at"}} <= {{date "due_date"}} THEN 1 ELSE 0 END) AS followups_on_time, 0 AS surveys_sent, 0 AS surveys_answered, 0 AS score_environment,
           0 AS score_attitude, 0 AS score_skill, 0 AS score_waiting, 0 AS score_explanation, 0 AS score_overall,
           0 AS complaints, 0 AS complaints_replied, 0 AS complaint_reply_seconds, 0 AS adverse_reactions,
           sum(CASE WHEN status IN ('done', 'missed') THEN 1 ELSE 0 END) AS followups_past_due,
           sum(CASE WHEN status = 'done' THEN 1 ELSE 0 END) AS followups_due_done, 0 AS surveys_sent_answered
    FROM cur_followup WHERE status <> 'cancelled' AND {{inDateDays "due_date"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "done_at"}}, dept_id, project_id, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_followup WHERE status = 'done' AND done_at IS NOT NULL AND {{inDays "done_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "sent_at"}}, dept_id, project_id, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           sum(CASE WHEN status = 'answered' THEN 1 ELSE 0 END)
    FROM cur_survey WHERE {{inDays "sent_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "answered_at"}}, dept_id, project_id, 0, 0, 0, 0, count(*),
           sum({{jsonInt "scores" "environment"}}), sum({{jsonInt "scores" "attitude"}}), sum({{jsonInt "scores" "skill"}}),
           sum({{jsonInt "scores" "waiting"}}), sum({{jsonInt "scores" "explanation"}}), sum({{jsonInt "scores" "overall"}}),
           0, 0, 0, 0, 0, 0, 0
    FROM cur_survey WHERE status = 'answered' AND answered_at IS NOT NULL AND {{inDays "answered_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "k.received_at"}}, k.dept_id, COALESCE(c.project_id, 0), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           count(*), sum(CASE WHEN k.replied_at IS NOT NULL THEN 1 ELSE 0 END),
           sum(CASE WHEN k.replied_at IS NOT NULL THEN {{seconds "k.received_at" "k.replied_at"}} ELSE 0 END), 0, 0, 0, 0
    FROM cur_complaint k LEFT JOIN cur_course c ON c.id = k.course_id
    WHERE {{inDays "k.received_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "started_at"}}, dept_id, project_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0, 0
    FROM cur_session WHERE adverse_reaction <> '' AND {{inDays "started_at"}} GROUP BY 1, 2, 3
) t
GROUP BY day, dept_id, project_id
