// Package metricstest scrapes a /metrics endpoint over HTTP in tests and
// reads values out of the text exposition, so a test can assert how much
// a counter moved.
package metricstest

import (
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Snapshot is one scrape: metric families by name.
type Snapshot map[string]*dto.MetricFamily

// Scrape GETs url (a /metrics endpoint) and parses the text exposition;
// anything but a 200 with well-formed text fails the test.
func Scrape(t testing.TB, url string) Snapshot {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: parsing the exposition: %v", url, err)
	}
	return fams
}

// Value is the value of the counter or gauge name whose labels include
// the given name/value pairs (0 when there is no such series, as before
// its first count). For a histogram it is the sample count.
func (s Snapshot) Value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// Has reports whether the scrape has a series of name with those labels.
func (s Snapshot) Has(name string, labels ...string) bool {
	f := s[name]
	if f == nil {
		return false
	}
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			return true
		}
	}
	return false
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
