package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes builds an IDX file: magic, dimensions, payload.
func idxBytes(magic uint32, dims []uint32, payload []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sampleImages is 3 images of 2x4 with distinct byte values.
func sampleImages() ([]byte, []byte) {
	pixels := make([]byte, 3*2*4)
	for i := range pixels {
		pixels[i] = byte(i*11 + 3)
	}
	return idxBytes(imageMagic, []uint32{3, 2, 4}, pixels), pixels
}

func TestReadImagesRoundTrip(t *testing.T) {
	raw, pixels := sampleImages()
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"img-idx3-ubyte":    raw,
		"img-idx3-ubyte.gz": gzipBytes(t, raw),
		// The gzip magic, not the name, decides.
		"gz-without-suffix": gzipBytes(t, raw),
	} {
		got, err := ReadImages(writeFile(t, dir, name, content))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.N != 3 || got.Rows != 2 || got.Cols != 4 || !bytes.Equal(got.Pixels, pixels) {
			t.Errorf("%s: got %d images of %dx%d %v, want 3 of 2x4 %v", name, got.N, got.Rows, got.Cols, got.Pixels, pixels)
		}
	}
}

func TestReadLabelsRoundTrip(t *testing.T) {
	labels := []byte{5, 0, 4, 1, 9, 2}
	raw := idxBytes(labelMagic, []uint32{6}, labels)
	dir := t.TempDir()
	for name, content := range map[string][]byte{"l-idx1-ubyte": raw, "l-idx1-ubyte.gz": gzipBytes(t, raw)} {
		got, err := ReadLabels(writeFile(t, dir, name, content))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, labels) {
			t.Errorf("%s: got %v, want %v", name, got, labels)
		}
	}
}

// corruptGzip flips a byte in the middle of the deflate data.
func corruptGzip(t testing.TB, raw []byte) []byte {
	z := gzipBytes(t, raw)
	z[len(z)/2] ^= 0xff
	return z
}

// badChecksum damages the CRC-32 in the gzip trailer only.
func badChecksum(t testing.TB, raw []byte) []byte {
	z := gzipBytes(t, raw)
	z[len(z)-8] ^= 0xff
	return z
}

type badFile struct {
	name    string
	content []byte // nil: the file is not created
	want    string // word the error must contain
}

func checkErrors(t *testing.T, cases []badFile, read func(string) error) {
	t.Helper()
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if c.content != nil {
			writeFile(t, dir, c.name, c.content)
		}
		err := read(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "data: ") || !strings.Contains(msg, path) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q: want one line starting \"data: \", naming %s and saying %q", c.name, msg, path, c.want)
		}
	}
}

func TestReadImagesErrors(t *testing.T) {
	raw, pixels := sampleImages()
	withType := slices.Clone(raw)
	withType[2] = 0x0d // float
	cases := []badFile{
		{"missing", nil, "no such file"},
		{"empty", []byte{}, "empty"},
		{"short-header", raw[:10], "truncated header"},
		{"label-magic", idxBytes(labelMagic, []uint32{3, 2, 4}, pixels), "bad magic number 0x00000801, want 0x00000803"},
		{"junk-magic", append([]byte("PK\x03\x04"), raw[4:]...), "bad magic"},
		{"type-byte", withType, "data type 0x0d"},
		{"four-dims", idxBytes(0x00000804, []uint32{3, 2, 4, 1}, pixels), "bad magic"},
		{"zero-images", idxBytes(imageMagic, []uint32{0, 2, 4}, nil), "zero dimension"},
		{"zero-cols", idxBytes(imageMagic, []uint32{3, 2, 0}, nil), "zero dimension"},
		{"huge-count", idxBytes(imageMagic, []uint32{1<<24 + 1, 28, 28}, pixels), "implausible"},
		{"huge-side", idxBytes(imageMagic, []uint32{3, 1 << 13, 4}, pixels), "implausible"},
		{"truncated", raw[:len(raw)-1], "truncated: header says 3 images of 2x4 (24 bytes) but only 23 bytes follow"},
		{"truncated.gz", gzipBytes(t, raw[:len(raw)-5]), "only 19 bytes follow"},
		{"trailing", append(slices.Clone(raw), 0, 0), "2 trailing bytes"},
		{"trailing.gz", gzipBytes(t, append(slices.Clone(raw), 7)), "1 trailing bytes"},
		{"corrupt.gz", corruptGzip(t, raw), "gzip"},
		{"checksum.gz", badChecksum(t, raw), "gzip"},
		{"cut.gz", gzipBytes(t, raw)[:20], "gzip"},
		{"gzip-header.gz", []byte{0x1f, 0x8b, 0, 0, 0}, "corrupt gzip header"},
		{"empty-content.gz", gzipBytes(t, nil), "empty"},
	}
	checkErrors(t, cases, func(p string) error {
		got, err := ReadImages(p)
		if err == nil {
			t.Logf("%s: read %d images", p, got.N)
		}
		return err
	})
}

func TestReadLabelsErrors(t *testing.T) {
	labels := []byte{1, 2, 3, 4}
	raw := idxBytes(labelMagic, []uint32{4}, labels)
	withType := slices.Clone(raw)
	withType[2] = 0x09
	cases := []badFile{
		{"missing", nil, "no such file"},
		{"empty", []byte{}, "empty"},
		{"short-header", raw[:5], "truncated header"},
		{"image-magic", idxBytes(imageMagic, []uint32{4, 1, 1}, labels), "bad magic number 0x00000803, want 0x00000801"},
		{"type-byte", withType, "data type 0x09"},
		{"zero", idxBytes(labelMagic, []uint32{0}, nil), "zero dimension"},
		{"huge", idxBytes(labelMagic, []uint32{1<<24 + 1}, labels), "implausible"},
		{"truncated", raw[:len(raw)-1], "truncated: header says 4 labels but only 3 bytes follow"},
		{"trailing", append(slices.Clone(raw), 1), "1 trailing bytes"},
		{"corrupt.gz", corruptGzip(t, raw), "gzip"},
		{"checksum.gz", badChecksum(t, raw), "gzip"},
	}
	checkErrors(t, cases, func(p string) error {
		_, err := ReadLabels(p)
		return err
	})
}

// A directory is not a file: the read must fail cleanly.
func TestReadImagesDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadImages(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("got %v, want an error naming %s", err, dir)
	}
}

func FuzzReadImages(f *testing.F) {
	raw, _ := sampleImages()
	f.Add(raw)
	f.Add(gzipBytes(f, raw))
	f.Add(raw[:20])
	f.Add(idxBytes(imageMagic, []uint32{1 << 20, 28, 28}, nil))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := parseImages("fuzz", bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: fuzz: ") {
				t.Fatalf("error %q lacks the data: prefix and name", err)
			}
			return
		}
		if img.N <= 0 || img.Rows <= 0 || img.Cols <= 0 || len(img.Pixels) != img.N*img.Rows*img.Cols {
			t.Fatalf("inconsistent success: %d images of %dx%d, %d pixels", img.N, img.Rows, img.Cols, len(img.Pixels))
		}
		// A raw file is exactly header plus payload.
		if b[0] == 0 && (len(b) != 16+len(img.Pixels) || int(binary.BigEndian.Uint32(b[4:])) != img.N) {
			t.Fatalf("inconsistent success: %d images from %d raw bytes", img.N, len(b))
		}
	})
}

func FuzzReadLabels(f *testing.F) {
	raw := idxBytes(labelMagic, []uint32{4}, []byte{1, 2, 3, 4})
	f.Add(raw)
	f.Add(gzipBytes(f, raw))
	f.Add(raw[:6])
	f.Add(idxBytes(labelMagic, []uint32{1 << 24}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		labels, err := parseLabels("fuzz", bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: fuzz: ") {
				t.Fatalf("error %q lacks the data: prefix and name", err)
			}
			return
		}
		if len(labels) == 0 {
			t.Fatal("success with no labels")
		}
		// A raw file is exactly header plus payload.
		if b[0] == 0 && (len(b) != 8+len(labels) || int(binary.BigEndian.Uint32(b[4:])) != len(labels)) {
			t.Fatalf("inconsistent success: %d labels from %d raw bytes", len(labels), len(b))
		}
	})
}
