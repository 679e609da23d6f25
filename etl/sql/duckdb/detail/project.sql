-- 项目明细: the appointments behind the bookings measure, with their outcome.
SELECT {{day "booked_at"}} AS day, dept_id, project_id,
       id AS appointment_id, patient_id, booked_at, planned_at, channel, status
FROM cur_appointment
WHERE {{inDays "booked_at"}}
