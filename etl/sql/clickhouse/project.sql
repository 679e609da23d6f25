-- 项目 projects (ClickHouse): the same definition as the DuckDB file beside it.
SELECT day, dept_id, project_id,
       sum(orders), sum(applications),
       sum(appointments_booked), sum(appointments_cancelled),
       sum(no_shows), sum(walk_ins), sum(sessions),
       sum(courses_started), sum(courses_completed),
       sum(first_sessions), sum(order_wait_seconds),
       sum(queue_waits), sum(queue_wait_seconds),
       sum(slot_capacity), sum(slot_booked),
       sum(appointments_due)
FROM (
    SELECT {{day "ordered_at"}} AS day, dept_id, project_id, toInt64(count()) AS orders, {{z}} AS applications,
           {{z}} AS appointments_booked, {{z}} AS appointments_cancelled, {{z}} AS no_shows, {{z}} AS walk_ins, {{z}} AS sessions,
           {{z}} AS courses_started, {{z}} AS courses_completed, {{z}} AS first_sessions, {{z}} AS order_wait_seconds,
           {{z}} AS queue_waits, {{z}} AS queue_wait_seconds, {{z}} AS slot_capacity, {{z}} AS slot_booked, {{z}} AS appointments_due
    FROM {{cur "order" "ordered_at"}} WHERE {{inDays "ordered_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "applied_at"}} AS day, dept_id, project_id, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "application" "applied_at"}} WHERE {{inDays "applied_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "booked_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "appointment" "booked_at"}} WHERE {{inDays "booked_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "cancelled_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "appointment" "cancelled_at"}} WHERE status = 'cancelled' AND cancelled_at IS NOT NULL AND {{inDays "cancelled_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "planned_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "appointment" "planned_at"}} WHERE status = 'no_show' AND {{inDays "planned_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{date "day"}} AS d, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "queue_ticket" "day"}} WHERE walk_in = 1 AND {{inDateDays "day"}} GROUP BY d, dept_id, project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}},
           toInt64(sum(seq_no = 1)), toInt64(sum(if(seq_no = 1, {{seconds "ordered_at" "started_at"}}, 0))), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM (SELECT order_id, dept_id, project_id, seq_no, started_at FROM {{cur "session" "started_at"}}
          WHERE status = 'completed' AND {{inDays "started_at"}})
    ALL INNER JOIN (SELECT id AS order_id, ordered_at FROM {{curJoin "order" "id" "session" "order_id" "started_at"}}) USING order_id
    GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "started_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "course" "started_at"}} WHERE {{inDays "started_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "ended_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}
    FROM {{cur "course" "ended_at"}} WHERE status IN ('completed', 'archived') AND ended_at IS NOT NULL AND {{inDays "ended_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{day "checked_in_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}},
           toInt64(count()), toInt64(sum({{seconds "checked_in_at" "started_at"}})), {{z}}, {{z}}, {{z}}
    FROM {{cur "queue_ticket" "checked_in_at"}} WHERE started_at IS NOT NULL AND {{inDays "checked_in_at"}} GROUP BY day, dept_id, project_id
    UNION ALL
    SELECT {{date "day"}} AS d, dept_id, ifNull(project_id, 0) AS pid, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}},
           toInt64(sum(capacity)), toInt64(sum(booked)), {{z}}
    FROM {{cur "slot" "day"}} WHERE {{inDateDays "day"}} GROUP BY d, dept_id, pid
    UNION ALL
    SELECT {{day "planned_at"}} AS day, dept_id, project_id, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count())
    FROM {{cur "appointment" "planned_at"}}
    WHERE (status != 'cancelled' OR (isNotNull(cancelled_at) AND {{day "cancelled_at"}} >= {{day "planned_at"}})) AND {{inDays "planned_at"}}
    GROUP BY day, dept_id, project_id
)
GROUP BY day, dept_id, project_id
