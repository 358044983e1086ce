package sqlite

import "github.com/posthorn/posthorn/internal/store/flagset"

// System flags are stored as bits of messages.sysflags, keywords as a
// space-separated sorted list in messages.keywords: package flagset,
// shared with the PostgreSQL backend.
const (
	flagDeleted = flagset.Deleted
	flagSeen    = flagset.Seen
)

type flagSet = flagset.Set

var (
	parseFlags  = flagset.Parse
	storedFlags = flagset.Stored
)
