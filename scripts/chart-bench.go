//go:build ignore

// chart-bench measures how long uPlot and Apache ECharts take to draw a
// 2-million-point line in headless Chromium, the measurement that chose
// lot serve's chart library (README, "Watching runs: lot serve").
//
//	npm pack uplot@1.6.32 echarts@6.1.0   # in a scratch directory; untar each
//	go run scripts/chart-bench.go UPLOT_DIST/uPlot.iife.min.js ECHARTS_DIST/echarts.min.js
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

const points = 2_000_000

// The page makes the series, then draws it once per library and run; each
// time is from the call to the library until it says it has drawn.
const page = `<!doctype html><html><body><div id=c style="width:1000px;height:400px"></div>
<script src="/lib.js"></script><script>
const N = %d, xs = new Float64Array(N), ys = new Float64Array(N);
for (let i = 0; i < N; i++) { xs[i] = i; ys[i] = Math.sin(i / 5e4) + 0.3 * Math.sin(i * 1.7) * Math.random(); }
async function once() {
  const el = document.getElementById("c"); el.innerHTML = "";
  const t0 = performance.now();
  if (window.uPlot) {
    await new Promise(done => new uPlot({ width: 1000, height: 400, scales: { x: { time: false } },
      series: [{}, { stroke: "blue" }], hooks: { draw: [u => { done(); setTimeout(() => u.destroy()); }] } }, [xs, ys], el));
  } else {
    const chart = echarts.init(el, null, { renderer: "canvas" });
    const data = new Array(N); for (let i = 0; i < N; i++) data[i] = [xs[i], ys[i]];
    const t1 = performance.now();
    await new Promise(done => { chart.on("finished", done); chart.setOption({ animation: false,
      xAxis: { type: "value" }, yAxis: { type: "value" }, series: [{ type: "line", data, showSymbol: false }] }); });
    chart.dispose();
    return performance.now() - t0;
  }
  return performance.now() - t0;
}
window.bench = async () => { const ts = []; for (let r = 0; r < 3; r++) ts.push(await once()); return ts; };
</script></body></html>`

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: go run scripts/chart-bench.go uPlot.iife.min.js echarts.min.js")
	}
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		log.Fatal(err)
	}
	for _, lib := range os.Args[1:] {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/lib.js" {
				http.ServeFile(w, r, lib)
				return
			}
			fmt.Fprintf(w, page, points)
		}))
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU)
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel2 := chromedp.NewContext(actx)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
			log.Fatal(err)
		}
		tctx, cancel3 := context.WithTimeout(ctx, 5*time.Minute)
		r, err := chromedp.Run(tctx, chromedp.Evaluate[json.RawMessage]("bench()", chromedp.EvalAwaitPromise))
		if err != nil {
			log.Fatal(err)
		}
		st, _ := os.Stat(lib)
		fmt.Printf("%s: %d bytes; draw of %d points, ms per run: %s\n", lib, st.Size(), points, r)
		cancel3()
		cancel2()
		cancel()
		srv.Close()
	}
}
