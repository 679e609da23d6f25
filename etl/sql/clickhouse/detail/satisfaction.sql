-- 满意度明细 (ClickHouse): the surveys sent, with their overall score once answered.
SELECT {{day "sent_at"}} AS day, dept_id, project_id,
       toInt64(id) AS survey_id, toInt64(patient_id) AS patient_id, sent_at, channel, status,
       if(status = 'answered', toInt64({{jsonInt "scores" "overall"}}), toInt64(0)) AS score_overall
FROM cur_survey
WHERE {{inDays "sent_at"}}
