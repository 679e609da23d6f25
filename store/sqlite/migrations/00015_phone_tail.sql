-- +goose Up
-- The keyed suffix index of a sealed phone (issue 29): HMAC-SM3 of its last
-- four digits, so the desk finds a caller by them (store/vault.go
-- derivedIndexes). A core sealed before this is filled in when it opens.
ALTER TABLE patient ADD COLUMN phone_tail_bidx TEXT NOT NULL DEFAULT '';
CREATE INDEX patient_phone_tail_bidx ON patient (institution_id, phone_tail_bidx);

-- +goose Down
DROP INDEX patient_phone_tail_bidx;
ALTER TABLE patient DROP COLUMN phone_tail_bidx;
