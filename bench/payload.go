package bench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// Payload is the session data every subject stores: about 200 bytes of
// JSON, a typical logged-in user with a small cart.
type Payload struct {
	UserID int64    `json:"user_id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	CSRF   string   `json:"csrf"`
	Cart   []Item   `json:"cart"`
	Visits int64    `json:"visits"`
}

// Item is one line of Payload.Cart.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

func init() { gob.Register(Payload{}) }

// SamplePayload returns the payload of session i.
func SamplePayload(i int) Payload {
	return Payload{
		UserID: int64(100000 + i),
		Name:   "Ada Lovelace",
		Email:  "ada" + strconv.Itoa(i) + "@example.com",
		Roles:  []string{"user", "editor"},
		CSRF:   "Qm9vdHN0cmFwIHRva2VuIGZvciBDU1JG",
		Cart:   []Item{{SKU: "SKU-1001", Qty: 2}, {SKU: "SKU-2002", Qty: 1}},
		Visits: 1,
	}
}

// PayloadSize is the JSON size of SamplePayload(0), for the report.
func PayloadSize() int {
	b, _ := json.Marshal(SamplePayload(0))
	return len(b)
}

// NewToken returns a fresh 43-character base64url token, as gormsession
// and scs make them.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// StoredID is the id gormsession stores for tok: the hex SHA-256 of its
// 32 bytes.
func StoredID(tok string) string {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
