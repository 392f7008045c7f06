// Command gxload drives signed requests against a running gxhub from many departments at
// once, over real gRPC or REST, and reports throughput and latency percentiles next to the
// crypto-only ceiling for the same work measured in the same run (one SM2 verify of the
// request signature and one SM2 sign of the response per operation, on all cores).
//
//	gxload --identities gxhub-data/demo --op whoami --duration 10s --concurrency 32
//
// Operations: whoami (a signed round trip), register (coordinator registrations: a store
// write plus an audit record), pull (consumers pull one random subject of an unconditional
// load resource with matter and case: signed request, policy decision, audit record, signed
// response), publish (the provider publishes --batch new records per call) and verify (a
// document verified by the hub, --verify-file). See ops.go and exchange_ops.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/sdk"
	"github.com/gxhub/gxhub/sdk/identity"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gxload:", err)
		os.Exit(2)
	}
}

// Result is one run's figures.
type Result struct {
	Op            string         `json:"op"`
	Transport     string         `json:"transport"`
	Concurrency   int            `json:"concurrency"`
	Departments   int            `json:"departments"`
	Duration      time.Duration  `json:"duration_ns"`
	OK            int64          `json:"ok"`
	Errors        int64          `json:"errors"`
	ErrorReasons  map[string]int `json:"error_reasons,omitempty"`
	Throughput    float64        `json:"ops_per_sec"`
	P50, P95, P99 time.Duration  `json:"-"`
	P50ms         float64        `json:"p50_ms"`
	P95ms         float64        `json:"p95_ms"`
	P99ms         float64        `json:"p99_ms"`
	Ceiling       float64        `json:"crypto_ceiling_ops_per_sec"`
	Ratio         float64        `json:"ratio_to_ceiling"`
	// HubCPUPerOp is the hub process's CPU time per successful operation (--hub-pid), and
	// CryptoCPUPerOp the CPU time of one ceiling unit (verify + sign): their ratio is the
	// hub's work per operation in crypto units, independent of other load on the machine.
	HubCPUPerOp    time.Duration `json:"-"`
	HubCPUPerOpUS  float64       `json:"hub_cpu_per_op_us,omitempty"`
	CryptoCPUPerUS float64       `json:"crypto_cpu_per_unit_us,omitempty"`
	// UnitsPerOp is HubCPUPerOp in crypto units; RecordsPerOp the records one operation
	// serves (batch pulls) and UnitsPerRecord the units per record; TargetUnits the
	// target of issue 18 for this op (per record for a batch pull; 0: none).
	UnitsPerOp     float64 `json:"units_per_op,omitempty"`
	RecordsPerOp   int     `json:"records_per_op,omitempty"`
	UnitsPerRecord float64 `json:"units_per_record,omitempty"`
	TargetUnits    float64 `json:"target_units,omitempty"`
	LoadAverage    string  `json:"load_average,omitempty"`
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gxload", flag.ContinueOnError)
	dir := fs.String("identities", "gxhub-data/demo", "directory of department identity directories (as written by gxhub serve --demo)")
	hub := fs.String("hub", "", "hub URL (default: the identities' hub_url)")
	op := fs.String("op", "whoami", "operation: "+strings.Join(opNames(), ", "))
	conc := fs.Int("concurrency", 4*runtime.NumCPU(), "concurrent workers")
	dur := fs.Duration("duration", 10*time.Second, "how long to drive load (bounded)")
	rate := fs.Float64("rate", 0, "target operations per second in total (0: as fast as possible)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	ceiling := fs.Duration("ceiling", 2*time.Second, "how long to measure the crypto-only ceiling (0 to skip)")
	fs.StringVar(&transport, "transport", "grpc", "grpc (the Go SDK) or rest (signed JSON over HTTPS; ops whoami and pull)")
	hubPID := fs.Int("hub-pid", 0, "process id of a hub on this machine: report its CPU time per operation (Linux /proc)")
	fs.IntVar(&loadRecords, "records", loadRecords, "pull: records the provider publishes before the run (subjects pulled at random)")
	fs.IntVar(&loadBatch, "batch", loadBatch, "publish: records per publish call")
	fs.IntVar(&loadSubjects, "subjects", loadSubjects, "pullbatch: subjects per batch pull (1-1000), each for its own case")
	fs.StringVar(&loadVerifyFile, "verify-file", "", "verify: the document each call sends (sealed OFD, PDF, certificate, e-seal)")
	fs.BoolVar(&verifyPull, "verify-pull", true, "pull: check the hub's SM2 signature on every response (client-side, counted in latency)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dur <= 0 || *dur > 30*time.Minute {
		return errors.New("--duration must be between 0 and 30m")
	}
	if loadSubjects < 1 || loadSubjects > 1000 {
		return errors.New("--subjects must be between 1 and 1000")
	}
	if *conc < 1 || *conc > 4096 {
		return errors.New("--concurrency must be between 1 and 4096")
	}
	o, ok := ops[*op]
	if !ok {
		return fmt.Errorf("unknown --op %q: use one of %s", *op, strings.Join(opNames(), ", "))
	}
	switch {
	case transport == "grpc":
	case transport == "rest" && (*op == "whoami" || *op == "pull"):
	default:
		return fmt.Errorf("--transport %q: use grpc, or rest with --op whoami or pull", transport)
	}
	hubURLOverride = *hub
	ids, err := loadIdentities(*dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var opts []sdk.Option
	if *hub != "" {
		opts = append(opts, sdk.WithURL(*hub))
	}
	clients := make([]*sdk.Client, len(ids))
	for i, id := range ids {
		if clients[i], err = sdk.Dial(ctx, id, opts...); err != nil {
			return err
		}
		defer clients[i].Close()
	}
	var cpu0 time.Duration
	res, err := drive(ctx, o, clients, *conc, *dur, *rate, func() {
		if *hubPID > 0 {
			cpu0, err = procCPU(*hubPID)
		}
	})
	if err != nil {
		return err
	}
	if *hubPID > 0 && res.OK > 0 {
		cpu1, err := procCPU(*hubPID)
		if err != nil {
			return err
		}
		res.HubCPUPerOp = (cpu1 - cpu0) / time.Duration(res.OK)
		res.HubCPUPerOpUS = float64(res.HubCPUPerOp.Nanoseconds()) / 1000
	}
	if *ceiling > 0 {
		cpu0 := selfCPU()
		res.Ceiling = CryptoCeiling(*ceiling)
		res.Ratio = res.Throughput / res.Ceiling
		// The ceiling's own CPU time per unit (not wall time × cores: other processes on
		// the machine would inflate that).
		res.CryptoCPUPerUS = float64((selfCPU() - cpu0).Nanoseconds()) / 1000 / (res.Ceiling * ceiling.Seconds())
	}
	if res.HubCPUPerOpUS > 0 && res.CryptoCPUPerUS > 0 {
		res.UnitsPerOp = res.HubCPUPerOpUS / res.CryptoCPUPerUS
		res.UnitsPerRecord = res.UnitsPerOp
		if o.Records != nil {
			res.RecordsPerOp = o.Records()
			res.UnitsPerRecord = res.UnitsPerOp / float64(res.RecordsPerOp)
		}
	}
	res.TargetUnits = targets[res.Op]
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "op %s over %s: %d departments, %d workers, %s\n", res.Op, res.Transport, res.Departments, res.Concurrency, res.Duration.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  %.0f ops/s   ok %d   errors %d\n", res.Throughput, res.OK, res.Errors)
	fmt.Fprintf(stdout, "  latency p50 %.2f ms   p95 %.2f ms   p99 %.2f ms\n", res.P50ms, res.P95ms, res.P99ms)
	for r, n := range res.ErrorReasons {
		fmt.Fprintf(stdout, "  error %s: %d\n", r, n)
	}
	if res.Ceiling > 0 {
		fmt.Fprintf(stdout, "  crypto ceiling (1 SM2 verify + 1 SM2 sign per op, %d cores): %.0f ops/s   ratio %.2f\n", runtime.NumCPU(), res.Ceiling, res.Ratio)
	}
	if res.HubCPUPerOpUS > 0 {
		fmt.Fprintf(stdout, "  hub CPU per op %.0f µs", res.HubCPUPerOpUS)
		if res.CryptoCPUPerUS > 0 {
			fmt.Fprintf(stdout, " = %.2f crypto units (one unit: %.0f µs CPU)", res.UnitsPerOp, res.CryptoCPUPerUS)
		}
		fmt.Fprintln(stdout)
	}
	if res.UnitsPerOp > 0 {
		fmt.Fprintln(stdout, unitsLine(res))
	}
	return nil
}

// unitsLine is the one-line summary `make bench` collects: the hub's CPU in crypto units
// next to the op's target, and the load on the machine while it was measured.
func unitsLine(r *Result) string {
	what := fmt.Sprintf("%.2f units/op", r.UnitsPerOp)
	if r.RecordsPerOp > 0 {
		what = fmt.Sprintf("%.3f units/record (%d records/op, %.2f units/op)", r.UnitsPerRecord, r.RecordsPerOp, r.UnitsPerOp)
	}
	verdict := "no target"
	if r.TargetUnits > 0 {
		verdict = fmt.Sprintf("target <= %g: ", r.TargetUnits)
		if r.UnitsPerRecord <= r.TargetUnits {
			verdict += "met"
		} else {
			verdict += "MISSED"
		}
	}
	return fmt.Sprintf("  UNITS %-9s %s   %s   p99 %.1f ms   load average %s", r.Op, what, verdict, r.P99ms, r.LoadAverage)
}

func loadIdentities(dir string) ([]*identity.Identity, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--identities %s: %w", dir, err)
	}
	var ids []*identity.Identity
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		id, err := identity.Load(filepath.Join(dir, e.Name()), nil)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no identities under %s: start the hub with --demo or register departments", dir)
	}
	return ids, nil
}

// Drive runs op from conc workers for dur (optionally paced to rate ops/s in total).
func Drive(ctx context.Context, o Op, clients []*sdk.Client, conc int, dur time.Duration, rate float64) (*Result, error) {
	return drive(ctx, o, clients, conc, dur, rate, func() {})
}

// selfCPU returns this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU returns the user plus system CPU time of process pid (Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("--hub-pid: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("--hub-pid: unexpected /proc/%d/stat", pid)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

func drive(ctx context.Context, o Op, clients []*sdk.Client, conc int, dur time.Duration, rate float64, started func()) (*Result, error) {
	st, err := o.Setup(ctx, clients)
	if err != nil {
		return nil, fmt.Errorf("setup %s: %w", o.Name, err)
	}
	if o.Teardown != nil {
		defer o.Teardown(st)
	}
	started()
	var (
		okN, errN atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
		reasons   = map[string]int{}
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(conc) / rate)
	}
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%len(clients)]
			local := make([]time.Duration, 0, 1024)
			// Paced workers start staggered over one interval, so that the calls arrive
			// evenly instead of in bursts of conc at once.
			next := start.Add(interval * time.Duration(w) / time.Duration(conc))
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					// Latency counts from when the call was due, not from when a late
					// worker got round to it (no coordinated omission).
					t0 = next
					next = next.Add(interval)
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := o.Do(cctx, st, c, w, i)
				cancel()
				if err != nil {
					errN.Add(1)
					mu.Lock()
					r := sdk.Reason(err)
					if re, ok := err.(*restError); ok {
						r = re.Reason
					}
					if r == "" {
						r = firstLine(err.Error())
					}
					reasons[r]++
					mu.Unlock()
					continue
				}
				local = append(local, time.Since(t0))
				okN.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	r := &Result{Op: o.Name, Transport: transport, Concurrency: conc, Departments: len(clients), Duration: elapsed,
		OK: okN.Load(), Errors: errN.Load(), Throughput: float64(okN.Load()) / elapsed.Seconds(),
		P50: pct(.50), P95: pct(.95), P99: pct(.99)}
	if len(reasons) > 0 {
		r.ErrorReasons = reasons
	}
	r.P50ms, r.P95ms, r.P99ms = ms(r.P50), ms(r.P95), ms(r.P99)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// CryptoCeiling measures, on all cores for d, how many (SM2 verify + SM2 sign) pairs per
// second this machine does: the cryptographic floor of one signed pull.
func CryptoCeiling(d time.Duration) float64 {
	key, _ := sm.GenerateKey()
	msg := make([]byte, 512)
	sig, _ := sm.Sign(key, msg)
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if sm.Verify(&key.PublicKey, msg, sig) != nil {
					panic("ceiling: verify failed")
				}
				if _, err := sm.Sign(key, msg); err != nil {
					panic(err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func opNames() []string {
	var out []string
	for k := range ops {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
