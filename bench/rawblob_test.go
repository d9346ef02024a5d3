package bench

import "testing"

// The codec's share of a load and a save, which the rawblob baseline does
// not pay:
//
//	go test -run '^$' -bench Codec -benchmem
func BenchmarkCodec(b *testing.B) {
	b.Run(CodecDecode, CodecBench(CodecDecode))
	b.Run(CodecEncode, CodecBench(CodecEncode))
}
