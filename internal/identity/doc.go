// Package identity holds every credential primitive of tenantferry: random
// secrets and their hashes, mailbox password hashes, the server key that
// encrypts secrets at rest, the per-server signing keys, JWT issuance for the
// per-tenant OAuth 2.0 client-credentials endpoint, and verification of
// tokens from this or another tenantferry server (JWKS fetched and cached).
//
// Invariants:
//   - No secret, password or token is ever stored or logged in clear text:
//     app secrets and admin tokens are stored as HashSecret values, passwords
//     as argon2id hashes, endpoint secrets and signing keys sealed with the
//     server key.
//   - A token is accepted only if its signature verifies against a key of the
//     issuer the caller trusts, its issuer equals that issuer exactly, its
//     audience contains the expected resource, and it has not expired.
package identity
