package diagnostics

import "reflect"

// filled gives o's zero fields the defaults, so that a test names only the
// options it is about (a zero it means must then differ from the default).
func filled(o Options) Options {
	d := DefaultOptions()
	ov, dv := reflect.ValueOf(&o).Elem(), reflect.ValueOf(d)
	for i := range ov.NumField() {
		if ov.Field(i).IsZero() {
			ov.Field(i).Set(dv.Field(i))
		}
	}
	return o
}
