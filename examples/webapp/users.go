package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// User is a customer account. Passwords are stored as bcrypt hashes only.
type User struct {
	ID           uint   `gorm:"primaryKey"`
	Email        string `gorm:"size:191;not null;uniqueIndex"`
	PasswordHash []byte `gorm:"not null"`
	CreatedAt    time.Time
}

// What sign-up and sign-in tell the visitor.
var (
	errBadCredentials = errors.New("that email and password do not match an account")
	errEmailTaken     = errors.New("an account with that email already exists")
	errBadEmail       = errors.New("please enter a valid email address")
	errShortPassword  = errors.New("please choose a password of at least 8 characters")
	errLongPassword   = errors.New("please choose a password of at most 72 bytes")
)

// users keeps accounts in one table.
type users struct {
	db    *gorm.DB
	table string
	cost  int
	// dummy is a hash checked when the email is unknown, so that a wrong
	// email takes as long as a wrong password.
	dummy []byte
}

func newUsers(db *gorm.DB, table string, cost int) (*users, error) {
	if err := db.Table(table).AutoMigrate(&User{}); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", table, err)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password anyone has"), cost)
	if err != nil {
		return nil, err
	}
	return &users{db: db, table: table, cost: cost, dummy: dummy}, nil
}

// normalizeEmail returns the address in the form accounts are keyed by.
func normalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 191 {
		return "", errBadEmail
	}
	return s, nil
}

// signUp creates an account.
func (u *users) signUp(ctx context.Context, email, password string) (*User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	switch {
	case len([]rune(password)) < 8:
		return nil, errShortPassword
	case len(password) > 72:
		return nil, errLongPassword
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return nil, err
	}
	user := &User{Email: email, PasswordHash: hash}
	if err := u.db.WithContext(ctx).Table(u.table).Create(user).Error; err != nil {
		// The unique index decides a race between two sign-ups; each
		// database words that differently, so look instead of parsing.
		var n int64
		if u.db.WithContext(ctx).Table(u.table).Where("email = ?", email).Count(&n).Error == nil && n > 0 {
			return nil, errEmailTaken
		}
		return nil, err
	}
	return user, nil
}

// signIn returns the account with email and password, or errBadCredentials.
func (u *users) signIn(ctx context.Context, email, password string) (*User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(u.dummy, []byte(password))
		return nil, errBadCredentials
	}
	var user User
	err = u.db.WithContext(ctx).Table(u.table).Where("email = ?", email).Take(&user).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		_ = bcrypt.CompareHashAndPassword(u.dummy, []byte(password))
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(user.PasswordHash, []byte(password)) != nil {
		return nil, errBadCredentials
	}
	return &user, nil
}
