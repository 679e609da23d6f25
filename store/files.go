package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// storeFile writes data content-addressed under FilesDir/kind and returns its
// path relative to the data folder and its sha256. Writing happens before the
// row's transaction: a rolled-back transaction can leave an unreferenced file,
// never a row without its file. Identical content is stored once.
func (db *DB) storeFile(kind, ext string, data []byte) (rel, sum string, err error) {
	h := sha256.Sum256(data)
	sum = hex.EncodeToString(h[:])
	dir := filepath.Join(db.FilesDir, kind, sum[:2])
	name := sum + ext
	rel = filepath.ToSlash(filepath.Join(filepath.Base(db.FilesDir), kind, sum[:2], name))
	full := filepath.Join(dir, name)
	if _, err := os.Stat(full); err == nil {
		return rel, sum, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", "", err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", "", err
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		return "", "", fmt.Errorf("store %s: %w", kind, err)
	}
	return rel, sum, nil
}

// ReadFile returns a stored file by its relative path, verifying its hash.
func (db *DB) ReadFile(rel, sum string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(db.FilesDir), filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("file %s: sha256 mismatch", rel)
	}
	return data, nil
}
