package main_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// cpuTime is the user+system CPU time a process has used (Linux /proc).
func cpuTime(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(tb, err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkForwardedPull measures forwarded pulls end to end between two real hub
// processes on 127.0.0.1 (a municipal consumer's hub forwarding to the provincial home hub,
// both over TLS, both auditing): pulls per second (4 concurrent callers) and each hub's CPU
// per pull, read from /proc before and after.
//
//	go test -run '^$' -bench BenchmarkForwardedPull -benchtime 200x ./cmd/gxctl/
func BenchmarkForwardedPull(b *testing.B) {
	dir := b.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/gxhub/gxhub/cmd/gxhub", "github.com/gxhub/gxhub/cmd/gxctl").CombinedOutput()
	require.NoError(b, err, "%s", out)
	gxhubBin, gxctlBin := filepath.Join(dir, "gxhub"), filepath.Join(dir, "gxctl")
	port := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	prov := &fedHub{id: "cq-province", level: "provincial", region: "500000", dir: b.TempDir(), addr: port()}
	city := &fedHub{id: "cq-city-a", level: "municipal", region: "500100", dir: b.TempDir(), addr: port()}
	startFedHub(b, gxhubBin, prov)
	startFedHub(b, gxhubBin, city)
	run := func(args ...string) string {
		out, err := exec.Command(gxctlBin, args...).CombinedOutput()
		require.NoError(b, err, "gxctl %v: %s", args, out)
		return string(out)
	}
	tmp := b.TempDir()
	card := filepath.Join(tmp, "city-card.json")
	run("--identity", city.coordinator(), "federation", "identity", "-o", card)
	agreement := filepath.Join(tmp, "agreement.json")
	run("--identity", prov.coordinator(), "federation", "propose", "--peer", card, "--offer", "500000-GA-0001", "--until", "2099-12-31", "--id", "FA-BENCH", "-o", agreement)
	run("--identity", city.coordinator(), "federation", "accept", agreement)
	out2 := run("--identity", city.fund(), "--json", "federation", "requirement", "file", "--hub", "cq-province", "--resource", "500000-GA-0001",
		"--item", "name", "--item", "household_address", "--matter", "500000-GJJ-0001", "--duty", "《住房公积金管理条例》第二十四条")
	var rq struct{ ID string }
	require.NoError(b, json.Unmarshal([]byte(out2), &rq), out2)
	id := rq.ID
	run("--identity", prov.coordinator(), "requirement", "review", id, "--accept")
	run("--identity", prov.police(), "requirement", "answer", id, "--grant")
	run("--identity", city.fund(), "federation", "requirement", "get", id)
	applicant := "50011219850312001" + string(exchange.IDNumberCheckChar("50011219850312001"))
	run("--identity", city.fund(), "case", "open", "--matter", "500000-GJJ-0001", "--number", "GJJ-BENCH-0001", "--applicant", applicant)
	fund := dialAs(b, city.fund())
	req := &exchangev1.PullRemoteRequest{HomeHub: "cq-province", Pull: &exchangev1.PullRequest{RequirementId: id,
		MatterCode: "500000-GJJ-0001", CaseNumber: "GJJ-BENCH-0001", Subjects: []string{applicant}}}
	_, err = fund.Federation.PullRemote(context.Background(), req) // warm up connections
	require.NoError(b, err)

	cpuP, cpuC := cpuTime(b, prov.proc.cmd.Process.Pid), cpuTime(b, city.proc.cmd.Process.Pid)
	start := time.Now()
	b.ResetTimer()
	b.SetParallelism(1) // GOMAXPROCS callers; the hubs share the same cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := fund.Federation.PullRemote(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	elapsed := time.Since(start)
	dP, dC := cpuTime(b, prov.proc.cmd.Process.Pid)-cpuP, cpuTime(b, city.proc.cmd.Process.Pid)-cpuC
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pulls/s")
	b.ReportMetric(float64(dP.Microseconds())/1000/float64(b.N), "home-cpu-ms/pull")
	b.ReportMetric(float64(dC.Microseconds())/1000/float64(b.N), "consumer-hub-cpu-ms/pull")
}
