// Package migrations holds the numbered SQL migrations of the aitutor schema, embedded in the
// binary. store.Migrate applies them with goose under a PostgreSQL advisory lock.
package migrations

import "embed"

// FS holds the migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
