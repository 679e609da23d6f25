-- 满意度与随访 satisfaction and follow-up (ClickHouse): the same definition as
-- the DuckDB file beside it.
SELECT day, dept_id, project_id,
       sum(followups_due), sum(followups_done),
       sum(followups_on_time),
       sum(surveys_sent), sum(surveys_answered),
       sum(score_environment), sum(score_attitude),
       sum(score_skill), sum(score_waiting),
       sum(score_explanation), sum(score_overall),
       sum(complaints), sum(complaints_replied),
       sum(complaint_reply_seconds), sum(adverse_reactions),
       sum(followups_past_due), sum(followups_due_done),
       sum(surveys_sent_answered)
FROM (
    SELECT {{date "due_date"}} AS day, dept_id, project_id, toInt64(count()) AS followups_due, {{z}} AS followups_done,
           toInt64(sum(status = 'done' AND isNotNull(done_at) AND {{day "done_at"}} <= {{date "due_date"}})) AS followups_on_time, {{z}} AS surveys_sent, {{z}} AS surveys_answered, {{z}} AS score_environment,
           {{z}} AS score_attitude, {{z}} AS score_skill, {{z}} AS score_waiting, {{z}} AS score_explanation, {{z}} AS score_overall,
           {{z}} AS complaints, {{z}} AS complaints_replied, {{z}} AS complaint_reply_seconds, {{z}} AS adverse_reactions,
           toInt64(sum(status IN ('done', 'missed'))) AS followups_past_due, toInt64(sum(status = 'done')) AS followups_due_done, {{z}} AS surveys_sent_answered
    FROM {{cur "followup" "due_date"}} WHERE status != 'cancelled' AND {{inDateDays "due_date"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "done_at"}} AS day, dept_id, project_id, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "followup" "done_at"}} WHERE status = 'done' AND done_at IS NOT NULL AND {{inDays "done_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "sent_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}},
           toInt64(sum(status = 'answered'))
    FROM {{cur "survey" "sent_at"}} WHERE {{inDays "sent_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "answered_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()),
           toInt64(sum({{jsonInt "scores" "environment"}})), toInt64(sum({{jsonInt "scores" "attitude"}})), toInt64(sum({{jsonInt "scores" "skill"}})),
           toInt64(sum({{jsonInt "scores" "waiting"}})), toInt64(sum({{jsonInt "scores" "explanation"}})), toInt64(sum({{jsonInt "scores" "overall"}})),
           {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "survey" "answered_at"}} WHERE status = 'answered' AND answered_at IS NOT NULL AND {{inDays "answered_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "received_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}},
           toInt64(count()), toInt64(sum(isNotNull(replied_at))),
           toInt64(sum(if(isNotNull(replied_at), {{seconds "received_at" "replied_at"}}, 0))), {{z}}, {{z}}, {{z}}, {{z}}
    FROM (SELECT ifNull(course_id, 0) AS course_id, dept_id, received_at, replied_at FROM {{cur "complaint" "received_at"}} WHERE {{inDays "received_at"}})
    ALL LEFT JOIN (SELECT id AS course_id, project_id FROM cur_course) USING course_id
    GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}
    FROM {{cur "session" "started_at"}} WHERE adverse_reaction != '' AND {{inDays "started_at"}} GROUP BY day, dept_id, project_id
)
GROUP BY day, dept_id, project_id
