-- +goose Up
-- The front desk lists a department's active courses to book (issue 19).
CREATE INDEX course_dept ON course (dept_id, status);

-- +goose Down
DROP INDEX course_dept;
