-- +goose Up
-- See the SQLite migration 00009: a department's active courses.
CREATE INDEX course_dept ON course (dept_id, status);

-- +goose Down
DROP INDEX course_dept;
