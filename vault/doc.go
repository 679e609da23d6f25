// Package vault owns the core's keys and the national-algorithm primitives
// built on them (GB/T 32907 SM4, GB/T 32905 SM3, GB/T 32918 SM2, all from
// github.com/emmansun/gmsm; no cryptography is written here):
//
//   - the master key, a file outside the database (`zhiliao keys init`),
//     which only wraps other keys (SM4-GCM) and is never used on data;
//   - the keyring of one core: the data keys that seal sensitive columns
//     (SM4-GCM, one random nonce per value), the blind-index key (HMAC-SM3,
//     exact lookups without decrypting), and the pseudonym key (HMAC-SM3, a
//     stable per-person token for the warehouse);
//   - SM2 key pairs and signatures over SM3 digests, behind the Signer
//     interface so a hospital's external CA can stand in for the built-in
//     signer.
//
// Why the keys are layered: rotating the master key re-wraps a handful of
// key rows and rewrites no data (`keys rotate`); a new data key re-encrypts
// rows in batches (`keys reencrypt`) while old ciphertexts stay readable,
// since each names the data key that sealed it. The blind-index and
// pseudonym keys never rotate with the data key, so lookups and the
// warehouse's distinct counts stay stable.
package vault
