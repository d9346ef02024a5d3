// Package model holds the row type that gormsession stores, one row per
// session, and the default table name. It has no behaviour: the statements
// that read and write rows are shared by packages session and repository.
package model

// TableDefault is the table name used when no other is configured.
const TableDefault = "sessions"

// Column limits shared by the migration and by callers that validate input
// before any SQL runs.
const (
	// SubjectMaxLength is the longest subject, in bytes, a row can hold.
	SubjectMaxLength = 255
	// LabelMaxLength is the longest label, in bytes, a row can hold.
	LabelMaxLength = 100
)

// SessionRow is one stored session. Payload is the encoded (and possibly
// sealed) session data; the row never holds the token itself, only its hash.
//
// Every time is an int64 count of Unix milliseconds, so the three supported
// databases store, compare and index it the same way.
type SessionRow struct {
	// ID is the lowercase hex SHA-256 of the session token; the primary key.
	ID string `gorm:"column:id;primaryKey;size:64"`
	// Subject is an optional owner key such as "user:42"; "" for anonymous
	// sessions. Indexed, so all sessions of one subject can be found or
	// deleted at once.
	Subject string `gorm:"column:subject;size:255;not null;default:''"`
	// Payload is the encoded session data.
	Payload []byte `gorm:"column:payload;not null"`
	// Version starts at 1 and grows by one on every save; a save names the
	// version it loaded so that a concurrent save is detected.
	Version int64 `gorm:"column:version;not null"`
	// CreatedAt is when the session was first saved.
	CreatedAt int64 `gorm:"column:created_at;not null;autoCreateTime:false"`
	// UpdatedAt is when the session was last saved or seen (idle touch).
	UpdatedAt int64 `gorm:"column:updated_at;not null;autoUpdateTime:false"`
	// Deadline is the absolute deadline: CreatedAt plus the lifetime.
	Deadline int64 `gorm:"column:deadline;not null"`
	// ExpiresAt is min(Deadline, last activity + idle timeout); indexed. A row
	// is live while ExpiresAt is after now.
	ExpiresAt int64 `gorm:"column:expires_at;not null"`
	// Lifetime is the session's own absolute lifetime in milliseconds, set
	// for example at a "remember me" login; 0 means the container's.
	Lifetime int64 `gorm:"column:lifetime;not null;default:0"`
	// IdleTimeout is the session's own idle timeout in milliseconds; 0
	// means the container's.
	IdleTimeout int64 `gorm:"column:idle_timeout;not null;default:0"`
	// Label is a short text the application chose to tell sessions apart
	// on a "your sessions" page (a device or browser name, say); "" for
	// none.
	Label string `gorm:"column:label;size:100;not null;default:''"`
}
