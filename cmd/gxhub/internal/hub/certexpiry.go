package hub

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// certRenewWarning is how long before a department certificate expires the hub warns
// (/readyz, gxhub_department_certificates_expiring): time to run `gxctl department rekey`.
const certRenewWarning = 60 * 24 * time.Hour

// expiringCertificates returns, for every department whose current certificate is active
// and expires within certRenewWarning (or has expired), one line saying so.
func (h *Hub) expiringCertificates(ctx context.Context) ([]string, error) {
	now := h.now()
	var out []string
	after := ""
	for {
		ds, err := h.Store.Departments().List(ctx, store.DepartmentFilter{}, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			cert, err := smx509.ParseCertificate(d.Certificate)
			if err != nil || cert.NotAfter.Sub(now) > certRenewWarning {
				continue
			}
			if st, err := h.Store.CertStatuses().Get(ctx, d.CertSerial); err != nil {
				return nil, err
			} else if st.State == exchange.CertRevoked {
				continue
			}
			out = append(out, fmt.Sprintf("the certificate of department %s (%s, serial %s) expires %s (%d days): renew it with `gxctl --identity DIR department rekey --out NEWDIR`",
				d.Code, d.Name, d.CertSerial, cert.NotAfter.UTC().Format(time.RFC3339), int(cert.NotAfter.Sub(now).Hours()/24)))
		}
		if len(ds) < 1000 {
			return out, nil
		}
		after = ds[len(ds)-1].Code
	}
}

// certificateReadiness is /readyz's warning lines about certificates to renew.
func (h *Hub) certificateReadiness(ctx context.Context) string {
	lines, err := h.expiringCertificates(ctx)
	if err != nil {
		return "warning: department certificates could not be checked for expiry: " + err.Error() + "\n"
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("warning: " + l + "\n")
	}
	return b.String()
}

// registerCertificateMetrics exports gxhub_department_certificates_expiring.
func (h *Hub) registerCertificateMetrics(reg *prometheus.Registry) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_department_certificates_expiring",
		Help: fmt.Sprintf("Departments whose active certificate expires within %d days (or has expired): renew them (gxctl department rekey).", int(certRenewWarning.Hours()/24))},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			lines, err := h.expiringCertificates(ctx)
			if err != nil {
				return -1
			}
			return float64(len(lines))
		}))
}
