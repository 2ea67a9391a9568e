package serve

import (
	"math"
	"reflect"
	"testing"
)

// TestMeanBand: seeds are joined on the x all of them logged.
func TestMeanBand(t *testing.T) {
	xs := [][]float64{{1, 2, 3, 4}, {2, 3, 4, 5}, {0, 2, 4}}
	ys := [][]float64{{10, 20, 30, 40}, {21, 31, 41, 51}, {0, 23, 43}}
	got := meanBand(xs, ys)
	want := Points{X: []float64{2, 4}, Y: []float64{(20 + 21 + 23) / 3.0, (40 + 41 + 43) / 3.0}, Lo: []float64{20, 40}, Hi: []float64{23, 43}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWindow(t *testing.T) {
	x, y := []float64{1, 2, 3, 4, 5}, []float64{10, 20, 30, 40, 50}
	if wx, wy := window(x, y, 2, 4); !reflect.DeepEqual(wx, []float64{2, 3, 4}) || !reflect.DeepEqual(wy, []float64{20, 30, 40}) {
		t.Errorf("[2,4]: %v %v", wx, wy)
	}
	if wx, _ := window(x, y, math.NaN(), 1.5); !reflect.DeepEqual(wx, []float64{1}) {
		t.Errorf("[,1.5]: %v", wx)
	}
	if wx, _ := window(x, y, 9, math.NaN()); len(wx) != 0 {
		t.Errorf("[9,]: %v", wx)
	}
}
