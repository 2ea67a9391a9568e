package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// numClasses is the number of MNIST digit classes.
const numClasses = 10

// MNIST is one split of MNIST: N images of D = 28·28 pixels, row-major, with
// their digit labels 0..9.
type MNIST struct {
	N, D   int
	Pixels []uint8 // N×D
	Labels []uint8 // N
}

// MNISTTrainImages is the size of MNIST's training split.
const MNISTTrainImages = 60000

// LoadMNIST reads the 60000-image training split from dir, or from
// DefaultDir() when dir is "". Each file may be gzip-compressed (name.gz,
// preferred) or raw (name).
func LoadMNIST(dir string) (*MNIST, error) {
	return loadSplit(dir, "train")
}

// LoadMNISTTest reads the 10000-image test split, like LoadMNIST.
func LoadMNISTTest(dir string) (*MNIST, error) {
	return loadSplit(dir, "t10k")
}

func loadSplit(dir, split string) (*MNIST, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	imagePath, err := findIDX(dir, split+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labelPath, err := findIDX(dir, split+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	images, err := ReadImages(imagePath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadLabels(labelPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != images.N {
		return nil, fmt.Errorf("data: %s: %d labels but %s has %d images", labelPath, len(labels), imagePath, images.N)
	}
	for i, l := range labels {
		if l >= numClasses {
			return nil, fmt.Errorf("data: %s: label %d at index %d is not a digit class 0..9", labelPath, l, i)
		}
	}
	return &MNIST{N: images.N, D: images.Rows * images.Cols, Pixels: images.Pixels, Labels: labels}, nil
}

// findIDX returns dir/name.gz if it exists, else dir/name.
func findIDX(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("data: %s: %w", p, unwrapPathError(err))
		}
	}
	return "", fmt.Errorf("data: %s: no such file (nor %s.gz)", filepath.Join(dir, name), name)
}

// unwrapPathError drops the "op path:" prefix of an fs.PathError, since our
// messages name the path themselves.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
