-- 满意度明细: the surveys sent, with their overall score once answered.
SELECT {{day "sent_at"}} AS day, dept_id, project_id,
       id AS survey_id, patient_id, sent_at, channel, status,
       CASE WHEN status = 'answered' THEN {{jsonInt "scores" "overall"}} ELSE 0 END AS score_overall
FROM cur_survey
WHERE {{inDays "sent_at"}}
