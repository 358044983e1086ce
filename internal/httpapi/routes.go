package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// route is one method and path of the API.
type route struct {
	method string
	path   string // http.ServeMux pattern without the method: /api/v1/messages/{id}
	auth   bool   // needs an API key
	h      handler
}

// routes lists every route of the API: add yours here, with its handler in
// a file of its own, and to openapi.json (TestOpenAPIRoutes checks).
func (s *Server) routes() []route {
	return []route{
		{"GET", "/api/v1/openapi.json", false, s.openAPI},
		{"GET", "/api/v1/key", true, s.getKey},
		{"POST", "/api/v1/messages", true, s.counted(s.postMessage)},
		{"GET", "/api/v1/messages/{id}", true, s.getMessage},
		{"GET", "/api/v1/events", true, s.listEvents},
		{"GET", "/api/v1/suppressions", true, domainKey(s.listSuppressions)},
		{"POST", "/api/v1/suppressions", true, domainKey(s.addSuppression)},
		{"DELETE", "/api/v1/suppressions/{address}", true, domainKey(s.removeSuppression)},
		{"GET", "/api/v1/webhooks", true, domainKey(s.listWebhooks)},
		{"POST", "/api/v1/webhooks", true, domainKey(s.addWebhook)},
		{"DELETE", "/api/v1/webhooks/{id}", true, domainKey(s.removeWebhook)},
		{"GET", "/api/v1/routes", true, s.listInboundRoutes},
		{"POST", "/api/v1/routes", true, s.addInboundRoute},
		{"DELETE", "/api/v1/routes/{id}", true, s.removeInboundRoute},
	}
}

// register puts the routes on the mux, one handler per path that
// dispatches by method (405 with Allow otherwise), and a JSON 404 for the
// rest of /api/.
func (s *Server) register() {
	byPath := map[string][]route{}
	var paths []string
	for _, rt := range s.routes() {
		if _, ok := byPath[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt)
	}
	for _, p := range paths {
		rts := byPath[p]
		hs := map[string]http.HandlerFunc{}
		var allow []string
		for _, rt := range rts {
			hs[rt.method] = s.serve(rt)
			allow = append(allow, rt.method)
		}
		if _, ok := hs["GET"]; ok && !slices.Contains(allow, "HEAD") {
			hs["HEAD"] = hs["GET"]
		}
		allowed := strings.Join(allow, ", ")
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if h, ok := hs[r.Method]; ok {
				h(w, r)
				return
			}
			w.Header().Set("Allow", allowed)
			writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: r.Method + " is not allowed here; use " + allowed})
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("no such path"))
	})
}
