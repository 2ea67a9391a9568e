package checkpoint

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// torchFile builds, byte by byte as a hand-written PyTorch exporter does, a
// safetensors file with one F32 tensor and one 0-dim I64 tensor (PyTorch's
// num_batches_tracked is a scalar).
func torchFile(t *testing.T, i64Name string) []byte {
	t.Helper()
	header := `{"bn1.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"` + i64Name + `":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	raw = append(raw, header...)
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(1.5))
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(-2))
	return binary.LittleEndian.AppendUint64(raw, 7)
}

func TestNumBatchesTrackedSkipped(t *testing.T) {
	f, err := Parse("m.safetensors", torchFile(t, "bn1.num_batches_tracked"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 1 || f.Tensors[0].Name != "bn1.weight" || f.Tensors[0].Data[1] != -2 {
		t.Fatalf("want only bn1.weight, got %+v", f.Tensors)
	}
	_, err = Parse("m.safetensors", torchFile(t, "bn1.counter"))
	if err == nil || !strings.Contains(err.Error(), "m.safetensors: tensor bn1.counter has dtype I64, want F32") {
		t.Fatalf("another I64 tensor: %v", err)
	}
}
