package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// taskDigest is a SHA-256 of a task's X (float32 bits) and Y.
func taskDigest(tk *Task) string {
	h := sha256.New()
	var b [4]byte
	for _, v := range tk.X {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	for _, y := range tk.Y {
		binary.LittleEndian.PutUint32(b[:], uint32(y))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestExistingStreamsUnchanged pins tasks 0 and 1 of existing configurations
// to the digests the stream produced before the full-set and full-train
// options were added: those options must not move an existing run's data.
func TestExistingStreamsUnchanged(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want [2]string
	}{
		{Config{Kind: "random-label", Samples: 21000, Relabel: 1, Seed: 0},
			[2]string{"4a82c4710b678b3e0822f8e4f6729ff04b1dd76dbe77a32f965ec6ffb4d42cd3",
				"b141cc3dd5a9a328a8a3897cf88d543f4b5c18baef1c7ca2e77000c31005d7f2"}},
		{Config{Kind: "random-label", Samples: 2048, Relabel: 0.3, Seed: 7},
			[2]string{"0398cddca8dc8966af8dbcffd11f42678d91d81aafb176113af1abc185dd0e33",
				"9d1adce3c9621fde9db4c6c1077c5487074188a2751481272cef6ab3f05cf513"}},
		{Config{Kind: "random-label", Samples: 60000, Relabel: 1, Seed: 1},
			[2]string{"8c278bcd968b6778b36c5a5daa29f15721dcb466f574258f029c5404174695e4",
				"178127c2ede97bdb6ef32a50fced21dd998d38f23fbe0da6de53ff1ce97934c1"}},
		{Config{Kind: "permuted", Samples: 1000, Seed: 3},
			[2]string{"75fb8c95ba48e6c4e8769bd1b4ef935b5f6c09e7ba5fa81d7b27cab7e6c6d19f",
				"76fc25a8fa2fffed5439bbe2cb861e23b5c3a09f6bf7898349daf9a972f29237"}},
	} {
		s := newTestStream(t, c.cfg)
		for k := range 2 {
			if got := taskDigest(task(t, s, k)); got != c.want[k] {
				t.Errorf("%+v task %d: digest %s, want %s", c.cfg, k, got, c.want[k])
			}
		}
	}
}
