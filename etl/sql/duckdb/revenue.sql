-- 收入 revenue: per day, department, project and visit type (DESIGN §D).
-- 治疗收入 (charges) are confirmed at execution: completed sessions, on the
-- day they started. A refund counts on the day the HIS refunded, split in
-- two: the part up to the value of the order's unexecuted sessions refunds
-- prepayment (预交款退费, its own measure, never lowering treatment
-- revenue); the rest reverses executed charges (冲减). 净收入 = 治疗收入 − 冲减.
-- Paid orders count on the day paid.
SELECT day, dept_id, project_id, visit_type,
       sum(charges_fen) AS charges_fen, sum(reversals_fen) AS reversals_fen,
       sum(charges_fen) - sum(reversals_fen) AS net_fen, sum(prepaid_refunds_fen) AS prepaid_refunds_fen,
       sum(sessions) AS sessions, sum(paid_orders) AS paid_orders, sum(paid_fen) AS paid_fen
FROM (
    SELECT {{day "s.started_at"}} AS day, s.dept_id, s.project_id, s.visit_type,
           sum(CASE WHEN s.charge_confirmed THEN s.charge_fen ELSE 0 END) AS charges_fen, 0 AS reversals_fen,
           0 AS prepaid_refunds_fen, count(*) AS sessions, 0 AS paid_orders, 0 AS paid_fen
    FROM cur_session s
    WHERE s.status = 'completed' AND {{inDays "s.started_at"}}
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT {{day "o.refunded_at"}}, o.dept_id, o.project_id, o.visit_type, 0,
           sum(o.refund_fen - least(o.refund_fen, (o.quantity - o.used_quantity) * o.unit_price_fen)),
           sum(least(o.refund_fen, (o.quantity - o.used_quantity) * o.unit_price_fen)), 0, 0, 0
    FROM cur_order o
    WHERE o.refunded_at IS NOT NULL AND o.refund_fen > 0 AND {{inDays "o.refunded_at"}}
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT {{day "o.paid_at"}}, o.dept_id, o.project_id, o.visit_type, 0, 0, 0, 0, count(*), sum(o.amount_fen)
    FROM cur_order o
    WHERE o.paid_at IS NOT NULL AND {{inDays "o.paid_at"}}
    GROUP BY 1, 2, 3, 4
) t
GROUP BY day, dept_id, project_id, visit_type
