-- 项目明细 (ClickHouse): the appointments behind the bookings measure.
SELECT {{day "booked_at"}} AS day, dept_id, project_id,
       toInt64(id) AS appointment_id, toInt64(patient_id) AS patient_id, booked_at, planned_at, channel, status
FROM cur_appointment
WHERE {{inDays "booked_at"}}
