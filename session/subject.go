package session

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// DestroySubject deletes every stored session whose subject is subject,
// live or expired, and reports how many it deleted: "log out everywhere".
// Sessions of other subjects and anonymous ones are untouched. An empty or
// invalid subject (see Session.SetSubject) is ErrInvalidSubject.
func (c *Container[T]) DestroySubject(ctx context.Context, subject string) (int64, error) {
	start := c.cfg.clockStart()
	var n int64
	var err error
	if err = checkSubject(subject, false); err != nil {
		err = fmt.Errorf("session: destroy subject: %w", err)
	} else if n, err = c.repo.DeleteSubject(ctx, subject); err != nil {
		err = dbErr(ctx, "destroy subject", err)
	}
	c.cfg.observe(ctx, start, Event{Op: "destroy_subject", Err: err, Rows: n})
	return n, err
}

// DestroyOthers ends other sessions of current's subject, for a "your
// active sessions" page: with no handles, every other one ("log out
// everywhere else"); with handles (see Info.Handle), just those. current
// itself is never destroyed (use Destroy), and a handle that names no
// session of current's subject is ignored, so a user can only end their own
// sessions. It reports how many sessions it destroyed. It fails with
// ErrInvalidSubject when current is not stored with a subject.
func (c *Container[T]) DestroyOthers(ctx context.Context, current *Session[T], handles ...string) (int64, error) {
	start := c.cfg.clockStart()
	n, err := c.destroyOthers(ctx, current, handles)
	c.cfg.observe(ctx, start, Event{Op: "destroy_others", Err: err, Rows: n})
	return n, err
}

func (c *Container[T]) destroyOthers(ctx context.Context, current *Session[T], handles []string) (int64, error) {
	if current == nil || current.isNew || current.storedSubject == "" {
		return 0, fmt.Errorf("session: destroy others: no stored subject: %w", ErrInvalidSubject)
	}
	subject := current.storedSubject
	if len(handles) == 0 {
		n, err := c.repo.DeleteSubjectExcept(ctx, subject, current.id)
		if err != nil {
			return n, dbErr(ctx, "destroy others", err)
		}
		return n, nil
	}
	rows, err := c.repo.ListSubject(ctx, subject, c.cfg.nowMs())
	if err != nil {
		return 0, dbErr(ctx, "destroy others", err)
	}
	var total int64
	for _, r := range rows {
		if r.ID == current.id || !slices.Contains(handles, handleOf(r.ID)) {
			continue
		}
		n, err := c.repo.Delete(ctx, r.ID)
		total += n
		if err != nil {
			return total, dbErr(ctx, "destroy others", err)
		}
	}
	return total, nil
}

// List returns the live sessions of subject, oldest first, without their
// payloads: for a "your active sessions" page. An empty or invalid subject
// is ErrInvalidSubject.
func (c *Container[T]) List(ctx context.Context, subject string) ([]Info, error) {
	if err := checkSubject(subject, false); err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	rows, err := c.repo.ListSubject(ctx, subject, c.cfg.nowMs())
	if err != nil {
		return nil, dbErr(ctx, "list", err)
	}
	out := make([]Info, len(rows))
	for i, r := range rows {
		out[i] = Info{Handle: handleOf(r.ID), Subject: r.Subject, CreatedAt: time.UnixMilli(r.CreatedAt),
			LastSeen: time.UnixMilli(r.UpdatedAt), ExpiresAt: time.UnixMilli(r.ExpiresAt),
			Label: r.Label, Remembered: r.Lifetime > 0}
	}
	return out, nil
}
