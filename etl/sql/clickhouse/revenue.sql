-- 收入 revenue (ClickHouse): the same definition as the DuckDB file beside it.
-- The outer sums carry no aliases: 18.16 would read a later reference to an
-- alias equal to the inner column as that aggregate (nested aggregates). Rows
-- are inserted by position.
SELECT day, dept_id, project_id, visit_type,
       sum(charges_fen), sum(reversals_fen),
       sum(charges_fen) - sum(reversals_fen) AS net_fen, sum(prepaid_refunds_fen),
       sum(sessions), sum(paid_orders), sum(paid_fen)
FROM (
    SELECT {{day "started_at"}} AS day, dept_id, project_id, visit_type,
           toInt64(sum(if(charge_confirmed = 1, charge_fen, 0))) AS charges_fen, {{z}} AS reversals_fen,
           {{z}} AS prepaid_refunds_fen, toInt64(count()) AS sessions, {{z}} AS paid_orders, {{z}} AS paid_fen
    FROM {{cur "session" "started_at"}}
    WHERE status = 'completed' AND {{inDays "started_at"}}
    GROUP BY day, dept_id, project_id, visit_type
    UNION ALL
    SELECT {{day "refunded_at"}} AS day, dept_id, project_id, visit_type, {{z}},
           toInt64(sum(refund_fen - least(refund_fen, (quantity - used_quantity) * unit_price_fen))),
           toInt64(sum(least(refund_fen, (quantity - used_quantity) * unit_price_fen))), {{z}}, {{z}}, {{z}}
    FROM {{cur "order" "refunded_at"}}
    WHERE refunded_at IS NOT NULL AND refund_fen > 0 AND {{inDays "refunded_at"}}
    GROUP BY day, dept_id, project_id, visit_type
    UNION ALL
    SELECT {{day "paid_at"}} AS day, dept_id, project_id, visit_type, {{z}}, {{z}}, {{z}}, {{z}}, toInt64(count()), toInt64(sum(amount_fen))
    FROM {{cur "order" "paid_at"}}
    WHERE paid_at IS NOT NULL AND {{inDays "paid_at"}}
    GROUP BY day, dept_id, project_id, visit_type
)
GROUP BY day, dept_id, project_id, visit_type
