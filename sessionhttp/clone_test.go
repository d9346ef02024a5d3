package sessionhttp

import (
	"math/big"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type cloneNode struct {
	Name string
	Next *cloneNode
}

type clonePayload struct {
	Items   []string
	Empty   []string
	Nil     []string
	Lines   []cloneLine
	Counts  map[string]int
	Nested  map[string][]int
	Ptr     *cloneLine
	Any     any
	AnyPtr  any
	When    time.Time
	Addr    netip.Addr
	Fixed   [2]cloneLine
	Bytes   []byte
	Node    *cloneNode
	private int // flat: copied with the struct
}

type cloneLine struct {
	SKU  string
	Qty  int
	Tags []string
}

func TestCloneIsDeepAndExact(t *testing.T) {
	t.Parallel()
	ring := &cloneNode{Name: "a"}
	ring.Next = &cloneNode{Name: "b", Next: ring}
	v := clonePayload{
		Items:   []string{"x", "y"},
		Empty:   []string{},
		Lines:   []cloneLine{{SKU: "beans", Qty: 1, Tags: []string{"new"}}},
		Counts:  map[string]int{"a": 1},
		Nested:  map[string][]int{"n": {1, 2}},
		Ptr:     &cloneLine{SKU: "p", Tags: []string{"t"}},
		Any:     []int{7},
		AnyPtr:  &cloneLine{SKU: "q"},
		When:    time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)),
		Addr:    netip.MustParseAddr("192.0.2.1"),
		Fixed:   [2]cloneLine{{Tags: []string{"f"}}},
		Bytes:   []byte("raw"),
		Node:    ring,
		private: 42,
	}
	c, exact := clone(&v)
	require.True(t, exact)
	require.True(t, reflect.DeepEqual(v, c))
	require.NotNil(t, c.Empty, "empty stays empty, not nil")
	require.Nil(t, c.Nil, "nil stays nil")
	require.Same(t, c.Node, c.Node.Next.Next, "the cycle is kept")
	require.NotSame(t, v.Node, c.Node)
	require.Equal(t, 42, c.private)

	// Changing the original in place, everywhere, leaves the copy alone.
	v.Items[0] = "changed"
	v.Lines[0].Tags[0] = "changed"
	v.Counts["a"] = 2
	v.Nested["n"][0] = 9
	v.Ptr.Tags[0] = "changed"
	v.Any.([]int)[0] = 8
	v.AnyPtr.(*cloneLine).SKU = "changed"
	v.Fixed[0].Tags[0] = "changed"
	v.Bytes[0] = 'R'
	v.Node.Next.Name = "changed"
	require.Equal(t, []string{"x", "y"}, c.Items)
	require.Equal(t, []string{"new"}, c.Lines[0].Tags)
	require.Equal(t, 1, c.Counts["a"])
	require.Equal(t, []int{1, 2}, c.Nested["n"])
	require.Equal(t, []string{"t"}, c.Ptr.Tags)
	require.Equal(t, []int{7}, c.Any)
	require.Equal(t, "q", c.AnyPtr.(*cloneLine).SKU)
	require.Equal(t, []string{"f"}, c.Fixed[0].Tags)
	require.Equal(t, []byte("raw"), c.Bytes)
	require.Equal(t, "b", c.Node.Next.Name)
}

func TestCloneReportsSharedMemory(t *testing.T) {
	t.Parallel()
	type hidden struct {
		Name  string
		items []string
	}
	type withFunc struct{ F func() }
	type withChan struct{ C chan int }
	type withKeys struct{ M map[*int]int }
	k := 1
	for name, inexact := range map[string]func() bool{
		"unexported slice": func() bool { _, ok := clone(&hidden{items: []string{"a"}}); return !ok },
		"big.Int":          func() bool { _, ok := clone(&struct{ N *big.Int }{big.NewInt(5)}); return !ok },
		"in an interface":  func() bool { _, ok := clone(&struct{ A any }{hidden{}}); return !ok },
		"func":             func() bool { _, ok := clone(&withFunc{F: func() {}}); return !ok },
		"chan":             func() bool { _, ok := clone(&withChan{C: make(chan int)}); return !ok },
		"pointer keys":     func() bool { _, ok := clone(&withKeys{M: map[*int]int{&k: 1}}); return !ok },
	} {
		require.True(t, inexact(), name)
	}
	// Nil references cannot be shared.
	_, ok := clone(&withFunc{})
	require.True(t, ok)
	_, ok = clone(&struct{ N *big.Int }{})
	require.True(t, ok)
}
