-- 项目 projects: per day and project, the flow from order to session and the
-- capacity it used. Averages are kept as sums and counts (wait seconds and how
-- many waits) so that any period's average is a sum over a sum.
SELECT day, dept_id, project_id,
       sum(orders) AS orders, sum(applications) AS applications,
       sum(appointments_booked) AS appointments_booked, sum(appointments_cancelled) AS appointments_cancelled,
       sum(no_shows) AS no_shows, sum(walk_ins) AS walk_ins, sum(sessions) AS sessions,
       sum(courses_started) AS courses_started, sum(courses_completed) AS courses_completed,
       sum(first_sessions) AS first_sessions, sum(order_wait_seconds) AS order_wait_seconds,
       sum(queue_waits) AS queue_waits, sum(queue_wait_seconds) AS queue_wait_seconds,
       sum(slot_capacity) AS slot_capacity, sum(slot_booked) AS slot_booked,
       sum(appointments_due) AS appointments_due
FROM (
    SELECT {{day "ordered_at"}} AS day, dept_id, project_id, count(*) AS orders, 0 AS applications,
           0 AS appointments_booked, 0 AS appointments_cancelled, 0 AS no_shows, 0 AS walk_ins, 0 AS sessions,
           0 AS courses_started, 0 AS courses_completed, 0 AS first_sessions, 0 AS order_wait_seconds,
           0 AS queue_waits, 0 AS queue_wait_seconds, 0 AS slot_capacity, 0 AS slot_booked, 0 AS appointments_due
    FROM cur_order WHERE {{inDays "ordered_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "applied_at"}}, dept_id, project_id, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_application WHERE {{inDays "applied_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "booked_at"}}, dept_id, project_id, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_appointment WHERE {{inDays "booked_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "cancelled_at"}}, dept_id, project_id, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_appointment WHERE status = 'cancelled' AND cancelled_at IS NOT NULL AND {{inDays "cancelled_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "planned_at"}}, dept_id, project_id, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_appointment WHERE status = 'no_show' AND {{inDays "planned_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{date "day"}}, dept_id, project_id, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_queue_ticket WHERE walk_in AND {{inDateDays "day"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "s.started_at"}}, s.dept_id, s.project_id, 0, 0, 0, 0, 0, 0, count(*), 0, 0,
           sum(CASE WHEN s.seq_no = 1 THEN 1 ELSE 0 END),
           sum(CASE WHEN s.seq_no = 1 THEN {{seconds "o.ordered_at" "s.started_at"}} ELSE 0 END), 0, 0, 0, 0, 0
    FROM cur_session s JOIN cur_order o ON o.id = s.order_id
    WHERE s.status = 'completed' AND {{inDays "s.started_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "started_at"}}, dept_id, project_id, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0, 0
    FROM cur_course WHERE {{inDays "started_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "ended_at"}}, dept_id, project_id, 0, 0, 0, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0, 0, 0
    FROM cur_course WHERE status IN ('completed', 'archived') AND ended_at IS NOT NULL AND {{inDays "ended_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{day "checked_in_at"}}, dept_id, project_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           count(*), sum({{seconds "checked_in_at" "started_at"}}), 0, 0, 0
    FROM cur_queue_ticket WHERE started_at IS NOT NULL AND {{inDays "checked_in_at"}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT {{date "day"}}, dept_id, COALESCE(project_id, 0), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           sum(capacity), sum(booked), 0
    FROM cur_slot WHERE {{inDateDays "day"}} GROUP BY 1, 2, 3
    UNION ALL
    -- 爽约率's cohort: appointments due on their planned day that were not
    -- cancelled before it (a cancellation on the day itself stays due).
    SELECT {{day "planned_at"}}, dept_id, project_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*)
    FROM cur_appointment
    WHERE (status <> 'cancelled' OR (cancelled_at IS NOT NULL AND {{day "cancelled_at"}} >= {{day "planned_at"}})) AND {{inDays "planned_at"}}
    GROUP BY 1, 2, 3
) t
GROUP BY day, dept_id, project_id
